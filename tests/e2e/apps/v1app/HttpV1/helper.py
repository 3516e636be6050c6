def greeting(name: str) -> str:
    return f"v1 says hi to {name}"
