from enum import StrEnum

class BulkRetryStatus(StrEnum):
    CANCELLED = "cancelled"
    FAILED = "failed"
    PARTIAL = "partial"

    def __str__(self) -> str:
        return str(self.value)
