"""Running one invocation of a user function: context, bindings in and out, timeout, hooks."""
