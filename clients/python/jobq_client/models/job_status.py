from enum import StrEnum

class JobStatus(StrEnum):
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIAL = "partial"
    PROCESSING = "processing"
    QUEUED = "queued"
    RETRYING = "retrying"
    SCHEDULED = "scheduled"

    def __str__(self) -> str:
        return str(self.value)
