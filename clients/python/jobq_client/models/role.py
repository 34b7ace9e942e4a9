from enum import StrEnum

class Role(StrEnum):
    ADMIN = "admin"
    EXECUTOR = "executor"
    SUBMITTER = "submitter"
    VIEWER = "viewer"

    def __str__(self) -> str:
        return str(self.value)
