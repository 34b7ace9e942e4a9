from enum import StrEnum

class RetryJobBodyPriorityType0Type1(StrEnum):
    HIGH = "high"
    LOW = "low"
    NORMAL = "normal"

    def __str__(self) -> str:
        return str(self.value)
