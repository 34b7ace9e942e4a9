from enum import StrEnum

class BatchEntryOutcome(StrEnum):
    ENQUEUED = "enqueued"
    NOT_CREATED = "not_created"
    UNKNOWN = "unknown"
    UNSENT = "unsent"

    def __str__(self) -> str:
        return str(self.value)
