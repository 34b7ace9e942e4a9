from enum import StrEnum

class BatchIncompleteCode(StrEnum):
    BATCH_INCOMPLETE = "batch_incomplete"
    BATCH_NOT_CREATED = "batch_not_created"

    def __str__(self) -> str:
        return str(self.value)
