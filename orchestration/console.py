"""What `ecom` prints: one line at a time, flushed, so a person or a log sees progress as it happens."""


def say(message: str) -> None:
    print(message, flush=True)
