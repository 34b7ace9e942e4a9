""" Contains all the data models used in inputs/outputs """

from .audit import Audit
from .batch import Batch
from .batch_entry import BatchEntry
from .batch_entry_outcome import BatchEntryOutcome
from .batch_incomplete import BatchIncomplete
from .batch_incomplete_code import BatchIncompleteCode
from .batch_incomplete_error import BatchIncompleteError
from .batch_summary import BatchSummary
from .batch_summary_counts import BatchSummaryCounts
from .bulk_retried import BulkRetried
from .bulk_retry import BulkRetry
from .caller import Caller
from .error import Error
from .error_detail import ErrorDetail
from .external_update import ExternalUpdate
from .health import Health
from .health_dlqs import HealthDlqs
from .health_queues import HealthQueues
from .health_status import HealthStatus
from .input_fail_input import InputFailInput
from .input_sleep_input import InputSleepInput
from .job import Job
from .job_failure import JobFailure
from .job_status import JobStatus
from .mark import Mark
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
from .pause_change import PauseChange
from .pause_flags import PauseFlags
from .pause_flags_changes import PauseFlagsChanges
from .payload_fail import PayloadFail
from .payload_sleep import PayloadSleep
from .pipeline_step import PipelineStep
from .priority_tier import PriorityTier
from .queue_depth import QueueDepth
from .reported_status import ReportedStatus
from .retriable_status import RetriableStatus
from .retry_job_body import RetryJobBody
from .role import Role
from .scope import Scope
from .stats import Stats
from .stats_counts import StatsCounts
from .stats_tiers import StatsTiers
from .stats_types import StatsTypes
from .tier_summary import TierSummary
from .type_summary import TypeSummary

__all__ = (
    "Audit",
    "Batch",
    "BatchEntry",
    "BatchEntryOutcome",
    "BatchIncomplete",
    "BatchIncompleteCode",
    "BatchIncompleteError",
    "BatchSummary",
    "BatchSummaryCounts",
    "BulkRetried",
    "BulkRetry",
    "Caller",
    "Error",
    "ErrorDetail",
    "ExternalUpdate",
    "Health",
    "HealthDlqs",
    "HealthQueues",
    "HealthStatus",
    "InputFailInput",
    "InputSleepInput",
    "Job",
    "JobFailure",
    "JobStatus",
    "Mark",
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
    "PauseChange",
    "PauseFlags",
    "PauseFlagsChanges",
    "PayloadFail",
    "PayloadSleep",
    "PipelineStep",
    "PriorityTier",
    "QueueDepth",
    "ReportedStatus",
    "RetriableStatus",
    "RetryJobBody",
    "Role",
    "Scope",
    "Stats",
    "StatsCounts",
    "StatsTiers",
    "StatsTypes",
    "TierSummary",
    "TypeSummary",
)
