from enum import StrEnum

class ListJobsStatus(StrEnum):
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
