import azure.durable_functions as df


def orchestrator_function(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("SayHello", "Tokyo")
    second = yield context.call_activity("SayHello", "Seattle")
    return [first, second]


main = df.Orchestrator.create(orchestrator_function)
