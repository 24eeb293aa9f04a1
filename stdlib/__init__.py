"""NPL built-ins: their implementations for the runtime."""
