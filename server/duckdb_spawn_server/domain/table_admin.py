"""Table administration: create, describe, migrate and drop the hosted tables.

Only the tables of hosted schemas are ever touched; a name that is not one
of them is NOT_FOUND whatever else the database holds. Migrations are
planned (domain/migration.py) and handed to storage to apply in one
transaction. When a refreshed schema arrives, `prepare` (the schema cache's
swap hook) creates the table or applies the plan's safe steps before the
new schema comes into force (AUTO_MIGRATE=additive); other steps stay
pending, visible in GetTable and GetHealth, until an admin applies them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .errors import DomainError, FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Unavailable
from .migration import MigrationPlan, MigrationStep, StepAction, StepSafety, TableState, plan_migration
from .names import table_name
from .ports import NoTableMetrics, SchemaProvider, TableMetrics, TableStore
from .schema import InvalidSchema, TableSchema
from .schema_registry import SwapResult
from .tables import TableColumn, TableCreation, TableInfo, TableUpdate
from .values import to_text

log = logging.getLogger(__name__)


# (schema_id, document text) -> schema; raises InvalidSchema (ontology.formats.parse_schema_text).
SchemaParser = Callable[[str, str], TableSchema]


@dataclass
class TableAdmin:
    schemas: SchemaProvider
    store: TableStore
    schema_ids: Sequence[str]
    parse_schema: SchemaParser | None = None
    auto_migrate: bool = True
    metrics: TableMetrics = NoTableMetrics()  # noqa: RUF009 - stateless
    protected_tables: frozenset[str] = frozenset({"projects"})

    # -- the schema cache's swap hook ------------------------------------------------
    def prepare(self, schema_id: str, previous: TableSchema | None, new: TableSchema) -> SwapResult:
        """Makes the table ready for `new` before it comes into force; raising keeps the old schema."""
        state = self.store.state(new.table_name)
        if state is None:
            created = self._create(new, None)
            return SwapResult(message=f"created table {new.table_name}" if created.created else "")
        plan = plan_migration(state, new)
        safe = plan.with_safety(StepSafety.SAFE) if self.auto_migrate else ()
        if safe and not self.store.migrates_automatically():
            # Another replica (the lake's leader) applies them; the schema comes into force here once it has.
            raise Unavailable(f"table {new.table_name} awaits its migration to {new.version} by the lake's leader",
                              retry_after_seconds=1.0, reason="MIGRATION_BY_LEADER",
                              metadata={"table": new.table_name, "version": new.version})
        pending = tuple(s for s in plan.steps if s not in safe)
        if safe or (plan.empty and state.schema_version != new.version):
            try:
                self.store.apply(plan, safe)
            except DomainError:
                self.metrics.table_operation("auto_migrate", "failed")
                raise
            if safe:
                self.metrics.table_operation("auto_migrate", "success")
                log.info("migration applied automatically", extra={
                    "table": new.table_name, "version": new.version, "steps": "; ".join(s.describe() for s in safe)})
        if pending:
            log.warning("migration pending: these steps need an admin (UpdateTable)", extra={
                "table": new.table_name, "version": new.version, "steps": "; ".join(s.describe() for s in pending)})
        message = f"applied {len(safe)} step(s)" if safe else ""
        if pending:
            message += ("; " if message else "") + f"{len(pending)} step(s) pending"
        return SwapResult(applied_steps=safe, pending_steps=pending, message=message)

    # -- CreateTables / InitializeDatabase ----------------------------------------------
    def create_all(self, timeout: float | None = None) -> list[TableCreation]:
        return [self._create(schema, timeout) for _, schema in self._hosted(timeout)]

    def _create(self, schema: TableSchema, timeout: float | None) -> TableCreation:
        try:
            creation = self.store.create(schema, timeout)
        except Exception:
            self.metrics.table_created(False)
            self.metrics.table_operation("create", "failed")
            raise
        if creation.created:
            self.metrics.table_created(True)
            log.info("table created", extra={"table": schema.table_name, "version": schema.version})
        self.metrics.table_operation("create", "success")
        return creation

    # -- ListTables / GetTable ------------------------------------------------------
    def list(self, timeout: float | None = None) -> list[TableInfo]:
        infos = []
        for schema_id, schema in self._hosted(timeout):
            state = self.store.state(schema.table_name)
            if state is not None:
                infos.append(self._info(schema_id, schema, state))
        return infos

    def get(self, table: str, timeout: float | None = None) -> TableInfo:
        schema_id, schema = self._schema_of(table, timeout)
        return self._info(schema_id, schema, self._state(table))

    def pending_migrations(self, timeout: float | None = None) -> dict[str, list[MigrationStep]]:
        """Steps not applied yet, per existing hosted table (for health)."""
        return {info.name: info.pending_steps for info in self.list(timeout) if info.pending_steps}

    # -- UpdateTable ----------------------------------------------------------------
    def update(self, table: str, *, schema_json: str = "", dry_run: bool = False, force: bool = False,
               timeout: float | None = None) -> TableUpdate:
        schema_id, schema = self._schema_of(table, timeout)
        target = self._given_schema(schema_id, table, schema_json) if schema_json else schema
        plan = plan_migration(self._state(table), target)
        steps = list(plan.steps)
        if dry_run or plan.empty:
            self.metrics.table_operation("update", "dry_run" if dry_run else "success")
            return TableUpdate(steps, False, self._info(schema_id, schema, plan.base))
        try:
            self._refuse_unsafe(table, plan, force)
            after = self.store.apply(plan, plan.steps, timeout=timeout)
        except FailedPrecondition:
            self.metrics.table_operation("update", "refused")
            raise
        except Exception:
            self.metrics.table_operation("update", "failed")
            raise
        self.metrics.table_operation("update", "success")
        log.info("migration applied", extra={"table": table, "version": target.version, "forced": force,
                                             "steps": "; ".join(s.describe() for s in steps)})
        return TableUpdate(steps, True, self._info(schema_id, schema, after))

    def _given_schema(self, schema_id: str, table: str, schema_json: str) -> TableSchema:
        if self.parse_schema is None:
            raise InvalidArgument("schema_json is not supported here", reason="NOT_SUPPORTED")
        try:
            given = self.parse_schema(schema_id, schema_json)
        except InvalidSchema as error:
            raise InvalidArgument(
                "schema_json is not a valid schema document",
                violations=[FieldViolation("schema_json", problem[:300], "INVALID_SCHEMA")
                            for problem in error.problems[:20]], reason="INVALID_SCHEMA") from None
        if given.table_name != table:
            raise InvalidArgument(
                f"schema_json defines table {given.table_name}, not {table}",
                violations=[FieldViolation("schema_json", "must define the table named in the request",
                                           "TABLE_MISMATCH")], reason="INVALID_SCHEMA")
        return given

    def _refuse_unsafe(self, table: str, plan: MigrationPlan, force: bool) -> None:
        needs_default = [s for s in plan.steps if s.safety is StepSafety.NEEDS_DEFAULT
                         and s.action is StepAction.ADD_COLUMN]
        if needs_default:
            names = ", ".join(s.column for s in needs_default)
            raise FailedPrecondition(
                f"cannot add required column(s) {names} without a default: {table} already has rows; "
                "give the column a default in the ontology (or make it optional) first", reason="NEEDS_DEFAULT",
                metadata={"table": table, "columns": names},
                violations=[FieldViolation(s.column, s.reason, "NEEDS_DEFAULT") for s in needs_default])
        destructive = plan.with_safety(StepSafety.DESTRUCTIVE)
        if destructive and not force:
            raise FailedPrecondition(
                f"the migration of {table} has destructive steps ({', '.join(s.describe() for s in destructive)}); "
                "set force to apply them after checking that every value converts",
                reason="DESTRUCTIVE_MIGRATION", metadata={"table": table},
                violations=[FieldViolation(s.column, s.reason, "DESTRUCTIVE_STEP") for s in destructive])

    # -- DeleteTable ----------------------------------------------------------------
    def delete(self, table: str, *, force: bool = False, timeout: float | None = None) -> None:
        self._schema_of(table, timeout)  # only hosted tables can ever be dropped
        if table in self.protected_tables and not force:
            raise FailedPrecondition(f"table {table} is protected; set force to drop it and all its rows",
                                     reason="TABLE_PROTECTED", metadata={"table": table})
        try:
            dropped = self.store.drop(table, timeout)
        except Exception:
            self.metrics.table_operation("delete", "failed")
            raise
        if not dropped:
            self.metrics.table_operation("delete", "refused")
            raise _table_not_found(table)
        self.metrics.table_operation("delete", "success")
        log.warning("table dropped", extra={"table": table})

    # -- helpers --------------------------------------------------------------------
    def hosted(self, timeout: float | None = None) -> list[TableSchema]:
        """The schemas in force of every hosted table."""
        return [schema for _, schema in self._hosted(timeout)]

    def _hosted(self, timeout: float | None) -> list[tuple[str, TableSchema]]:
        return [(sid, self.schemas.active(sid, timeout=timeout).schema) for sid in self.schema_ids]

    def _schema_of(self, table: str, timeout: float | None) -> tuple[str, TableSchema]:
        for schema_id, schema in self._hosted(timeout):
            if schema.table_name == table:
                return schema_id, schema
        raise _table_not_found(table)

    def _state(self, table: str) -> TableState:
        state = self.store.state(table)
        if state is None:
            raise _table_not_found(table)
        return state

    def _info(self, schema_id: str, schema: TableSchema, state: TableState) -> TableInfo:
        try:
            pending = list(plan_migration(state, schema).steps)
            in_sync = not pending
        except FailedPrecondition:  # e.g. the identifier changed: nothing can be planned
            pending, in_sync = [], False
        columns = [TableColumn(c.name, c.type.sql, c.required,
                               to_text(c.default) if c.default is not None else None)
                   for c in state.columns]
        info = TableInfo(name=state.table, schema_id=schema_id, columns=columns, row_count=state.row_count,
                         schema_version=state.schema_version, in_sync=in_sync, pending_steps=pending)
        return replace(info, protected=True) if info.name in self.protected_tables else info


def _table_not_found(table: str) -> NotFound:
    name = table_name(table)
    return NotFound(f"table {name} does not exist", resource_type="duckdbspawn.io/Table", resource_name=name,
                    reason="TABLE_NOT_FOUND")
