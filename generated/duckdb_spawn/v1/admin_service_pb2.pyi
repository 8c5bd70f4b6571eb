import datetime

from google.api import client_pb2 as _client_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StepSafety(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_SAFETY_UNSPECIFIED: _ClassVar[StepSafety]
    STEP_SAFETY_SAFE: _ClassVar[StepSafety]
    STEP_SAFETY_NEEDS_DEFAULT: _ClassVar[StepSafety]
    STEP_SAFETY_DESTRUCTIVE: _ClassVar[StepSafety]

class StepAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_ACTION_UNSPECIFIED: _ClassVar[StepAction]
    STEP_ACTION_ADD_COLUMN: _ClassVar[StepAction]
    STEP_ACTION_DROP_COLUMN: _ClassVar[StepAction]
    STEP_ACTION_ALTER_TYPE: _ClassVar[StepAction]
    STEP_ACTION_SET_NOT_NULL: _ClassVar[StepAction]
    STEP_ACTION_DROP_NOT_NULL: _ClassVar[StepAction]
    STEP_ACTION_SET_DEFAULT: _ClassVar[StepAction]
    STEP_ACTION_DROP_DEFAULT: _ClassVar[StepAction]

class SchemaSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCHEMA_SOURCE_UNSPECIFIED: _ClassVar[SchemaSource]
    SCHEMA_SOURCE_SERVER: _ClassVar[SchemaSource]
    SCHEMA_SOURCE_CACHE: _ClassVar[SchemaSource]
    SCHEMA_SOURCE_DISK: _ClassVar[SchemaSource]
    SCHEMA_SOURCE_MOCK: _ClassVar[SchemaSource]

class RefreshOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFRESH_OUTCOME_UNSPECIFIED: _ClassVar[RefreshOutcome]
    REFRESH_OUTCOME_UNCHANGED: _ClassVar[RefreshOutcome]
    REFRESH_OUTCOME_UPDATED: _ClassVar[RefreshOutcome]
    REFRESH_OUTCOME_FAILED: _ClassVar[RefreshOutcome]
STEP_SAFETY_UNSPECIFIED: StepSafety
STEP_SAFETY_SAFE: StepSafety
STEP_SAFETY_NEEDS_DEFAULT: StepSafety
STEP_SAFETY_DESTRUCTIVE: StepSafety
STEP_ACTION_UNSPECIFIED: StepAction
STEP_ACTION_ADD_COLUMN: StepAction
STEP_ACTION_DROP_COLUMN: StepAction
STEP_ACTION_ALTER_TYPE: StepAction
STEP_ACTION_SET_NOT_NULL: StepAction
STEP_ACTION_DROP_NOT_NULL: StepAction
STEP_ACTION_SET_DEFAULT: StepAction
STEP_ACTION_DROP_DEFAULT: StepAction
SCHEMA_SOURCE_UNSPECIFIED: SchemaSource
SCHEMA_SOURCE_SERVER: SchemaSource
SCHEMA_SOURCE_CACHE: SchemaSource
SCHEMA_SOURCE_DISK: SchemaSource
SCHEMA_SOURCE_MOCK: SchemaSource
REFRESH_OUTCOME_UNSPECIFIED: RefreshOutcome
REFRESH_OUTCOME_UNCHANGED: RefreshOutcome
REFRESH_OUTCOME_UPDATED: RefreshOutcome
REFRESH_OUTCOME_FAILED: RefreshOutcome

class Column(_message.Message):
    __slots__ = ("name", "type", "required", "default_value", "description", "system_managed", "allowed_values", "minimum", "maximum", "pattern", "max_length")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_MANAGED_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_VALUES_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    required: bool
    default_value: str
    description: str
    system_managed: bool
    allowed_values: _containers.RepeatedScalarFieldContainer[str]
    minimum: str
    maximum: str
    pattern: str
    max_length: int
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., required: _Optional[bool] = ..., default_value: _Optional[str] = ..., description: _Optional[str] = ..., system_managed: _Optional[bool] = ..., allowed_values: _Optional[_Iterable[str]] = ..., minimum: _Optional[str] = ..., maximum: _Optional[str] = ..., pattern: _Optional[str] = ..., max_length: _Optional[int] = ...) -> None: ...

class MigrationStep(_message.Message):
    __slots__ = ("action", "column", "from_type", "to_type", "safety", "reason")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    FROM_TYPE_FIELD_NUMBER: _ClassVar[int]
    TO_TYPE_FIELD_NUMBER: _ClassVar[int]
    SAFETY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    action: StepAction
    column: str
    from_type: str
    to_type: str
    safety: StepSafety
    reason: str
    def __init__(self, action: _Optional[_Union[StepAction, str]] = ..., column: _Optional[str] = ..., from_type: _Optional[str] = ..., to_type: _Optional[str] = ..., safety: _Optional[_Union[StepSafety, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class Table(_message.Message):
    __slots__ = ("name", "schema", "columns", "row_count", "schema_version", "in_sync", "pending_steps", "protected")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    IN_SYNC_FIELD_NUMBER: _ClassVar[int]
    PENDING_STEPS_FIELD_NUMBER: _ClassVar[int]
    PROTECTED_FIELD_NUMBER: _ClassVar[int]
    name: str
    schema: str
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    row_count: int
    schema_version: str
    in_sync: bool
    pending_steps: _containers.RepeatedCompositeFieldContainer[MigrationStep]
    protected: bool
    def __init__(self, name: _Optional[str] = ..., schema: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., row_count: _Optional[int] = ..., schema_version: _Optional[str] = ..., in_sync: _Optional[bool] = ..., pending_steps: _Optional[_Iterable[_Union[MigrationStep, _Mapping]]] = ..., protected: _Optional[bool] = ...) -> None: ...

class CreateTablesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TableCreationResult(_message.Message):
    __slots__ = ("table", "created")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    table: str
    created: bool
    def __init__(self, table: _Optional[str] = ..., created: _Optional[bool] = ...) -> None: ...

class CreateTablesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[TableCreationResult]
    def __init__(self, results: _Optional[_Iterable[_Union[TableCreationResult, _Mapping]]] = ...) -> None: ...

class ListTablesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTablesResponse(_message.Message):
    __slots__ = ("tables", "next_page_token")
    TABLES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tables: _containers.RepeatedCompositeFieldContainer[Table]
    next_page_token: str
    def __init__(self, tables: _Optional[_Iterable[_Union[Table, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetTableRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UpdateTableRequest(_message.Message):
    __slots__ = ("name", "schema_json", "dry_run", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    schema_json: str
    dry_run: bool
    force: bool
    def __init__(self, name: _Optional[str] = ..., schema_json: _Optional[str] = ..., dry_run: _Optional[bool] = ..., force: _Optional[bool] = ...) -> None: ...

class UpdateTableResponse(_message.Message):
    __slots__ = ("steps", "applied", "table")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[MigrationStep]
    applied: bool
    table: Table
    def __init__(self, steps: _Optional[_Iterable[_Union[MigrationStep, _Mapping]]] = ..., applied: _Optional[bool] = ..., table: _Optional[_Union[Table, _Mapping]] = ...) -> None: ...

class DeleteTableRequest(_message.Message):
    __slots__ = ("name", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("name", "table", "description", "columns", "version", "etag", "source", "fetch_time", "age", "format", "last_error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FETCH_TIME_FIELD_NUMBER: _ClassVar[int]
    AGE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    table: str
    description: str
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    version: str
    etag: str
    source: SchemaSource
    fetch_time: _timestamp_pb2.Timestamp
    age: _duration_pb2.Duration
    format: str
    last_error: str
    def __init__(self, name: _Optional[str] = ..., table: _Optional[str] = ..., description: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., version: _Optional[str] = ..., etag: _Optional[str] = ..., source: _Optional[_Union[SchemaSource, str]] = ..., fetch_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., format: _Optional[str] = ..., last_error: _Optional[str] = ...) -> None: ...

class RefreshSchemasRequest(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class SchemaRefreshResult(_message.Message):
    __slots__ = ("schema", "outcome", "previous_version", "version", "message", "applied_steps", "pending_steps")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_STEPS_FIELD_NUMBER: _ClassVar[int]
    PENDING_STEPS_FIELD_NUMBER: _ClassVar[int]
    schema: str
    outcome: RefreshOutcome
    previous_version: str
    version: str
    message: str
    applied_steps: _containers.RepeatedCompositeFieldContainer[MigrationStep]
    pending_steps: _containers.RepeatedCompositeFieldContainer[MigrationStep]
    def __init__(self, schema: _Optional[str] = ..., outcome: _Optional[_Union[RefreshOutcome, str]] = ..., previous_version: _Optional[str] = ..., version: _Optional[str] = ..., message: _Optional[str] = ..., applied_steps: _Optional[_Iterable[_Union[MigrationStep, _Mapping]]] = ..., pending_steps: _Optional[_Iterable[_Union[MigrationStep, _Mapping]]] = ...) -> None: ...

class RefreshSchemasResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SchemaRefreshResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SchemaRefreshResult, _Mapping]]] = ...) -> None: ...

class GetSchemaRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class LogLevel(_message.Message):
    __slots__ = ("level",)
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    level: str
    def __init__(self, level: _Optional[str] = ...) -> None: ...

class SetLogLevelRequest(_message.Message):
    __slots__ = ("level",)
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    level: str
    def __init__(self, level: _Optional[str] = ...) -> None: ...

class GetLogLevelRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
