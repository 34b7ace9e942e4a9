""" Contains all the data models used in inputs/outputs """

from .batch import Batch
from .batch_entry import BatchEntry
from .batch_entry_outcome import BatchEntryOutcome
from .batch_incomplete import BatchIncomplete
from .batch_incomplete_error import BatchIncompleteError
from .batch_incomplete_error_code import BatchIncompleteErrorCode
from .batch_summary import BatchSummary
from .batch_summary_counts import BatchSummaryCounts
from .bulk_retried import BulkRetried
from .bulk_retry import BulkRetry
from .bulk_retry_status import BulkRetryStatus
from .error import Error
from .error_error import ErrorError
from .external_update import ExternalUpdate
from .external_update_error_type_1 import ExternalUpdateErrorType1
from .external_update_status_type_1 import ExternalUpdateStatusType1
from .health import Health
from .health_dlqs import HealthDlqs
from .health_queues import HealthQueues
from .input_fail_input import InputFailInput
from .input_sleep_input import InputSleepInput
from .job import Job
from .job_error_type_0 import JobErrorType0
from .job_next_item import JobNextItem
from .job_status import JobStatus
from .job_tier import JobTier
from .list_jobs_status import ListJobsStatus
from .new_batch import NewBatch
from .new_job_echo import NewJobEcho
from .new_job_fail import NewJobFail
from .new_job_noop import NewJobNoop
from .new_job_sleep import NewJobSleep
from .new_step_echo import NewStepEcho
from .new_step_fail import NewStepFail
from .new_step_noop import NewStepNoop
from .new_step_sleep import NewStepSleep
from .openapi_response_200 import OpenapiResponse200
from .page import Page
from .pause_flags import PauseFlags
from .payload_fail import PayloadFail
from .payload_sleep import PayloadSleep
from .priority_type_1 import PriorityType1
from .retry_job_body import RetryJobBody
from .retry_job_body_priority_type_0_type_1 import RetryJobBodyPriorityType0Type1
from .scope import Scope
from .stats import Stats
from .stats_counts import StatsCounts
from .stats_tiers import StatsTiers
from .stats_types import StatsTypes

__all__ = (
    "Batch",
    "BatchEntry",
    "BatchEntryOutcome",
    "BatchIncomplete",
    "BatchIncompleteError",
    "BatchIncompleteErrorCode",
    "BatchSummary",
    "BatchSummaryCounts",
    "BulkRetried",
    "BulkRetry",
    "BulkRetryStatus",
    "Error",
    "ErrorError",
    "ExternalUpdate",
    "ExternalUpdateErrorType1",
    "ExternalUpdateStatusType1",
    "Health",
    "HealthDlqs",
    "HealthQueues",
    "InputFailInput",
    "InputSleepInput",
    "Job",
    "JobErrorType0",
    "JobNextItem",
    "JobStatus",
    "JobTier",
    "ListJobsStatus",
    "NewBatch",
    "NewJobEcho",
    "NewJobFail",
    "NewJobNoop",
    "NewJobSleep",
    "NewStepEcho",
    "NewStepFail",
    "NewStepNoop",
    "NewStepSleep",
    "OpenapiResponse200",
    "Page",
    "PauseFlags",
    "PayloadFail",
    "PayloadSleep",
    "PriorityType1",
    "RetryJobBody",
    "RetryJobBodyPriorityType0Type1",
    "Scope",
    "Stats",
    "StatsCounts",
    "StatsTiers",
    "StatsTypes",
)
