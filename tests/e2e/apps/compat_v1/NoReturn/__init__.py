import logging


def main(req):
    logging.info("no return")
