"""Which settings shape the engine rather than the session, and which legacy settings change how a
statement is read. Classified for the installed Spark (4.0): tests/authz/test_conf_oracle.py fails
when a Spark upgrade brings a key or a namespace these lists do not place.

Launch-time: a Spark Thrift Server refuses them itself (CANNOT_MODIFY_CONFIG) or ignores them, but a
Kyuubi server launching an engine for the session passes them to spark-submit, where they pick the
image, the pod template, the classes loaded (spark.plugins, spark.extraListeners), the Kerberos
principal, the Python binary, the executors... The rule is turned around for them: refused for
non-admins unless the policy allows the key and the value, `conf = {KEY = SPEC}` in policy.toml:

    "*"              any value
    "<=8g"           a size at most this (b, k, m, g, t, p, optionally followed by b or ib; a value
                     without a unit counts in MiB, as Spark reads spark.executor.memory)
    "<=10"           a whole number at most this
    ["a", "b"]       one of these values (case-insensitive)

A value the gateway cannot read (unknown: a SET whose value it could not take apart) fits only "*".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

# The first part after `spark.` of every Spark core (not SQL) setting: all read at SparkContext
# start or by the launcher. A key outside spark. that Kyuubi launches as spark.K counts when its
# first part is one of these (a user's variable `region.x` becomes spark.region.x: nothing reads it).
SPARK_NAMESPACES = frozenset({
    "acls", "admin", "api", "app", "appstatestore", "archives", "authenticate", "barrier", "blacklist", "block",
    "blockmanager", "broadcast", "buffer", "checkpoint", "cleaner", "connect", "cores", "dead", "decommission",
    "default", "deploy", "diskstore", "driver", "dynamicallocation", "eventlog", "excludeonfailure", "executor",
    "extralisteners", "file", "files", "graphx", "hadoop", "hadooprdd", "history", "io", "jars", "jvmstacktrace",
    "kerberos", "kryo", "kryoserializer", "kubernetes", "local", "locality", "log", "logconf", "master", "memory",
    "mesos", "metrics", "ml", "modify", "network", "plugins", "port", "pyspark", "python", "r", "rdd", "redaction",
    "reducer", "resources", "rpc", "scheduler", "security", "serializer", "shuffle", "shutdown", "sparkr",
    "speculation", "ssl", "stage", "standalone", "storage", "streaming", "submit", "task", "taskmetrics", "test",
    "testing", "ui", "unsafe", "user", "worker", "yarn",
})  # fmt: skip
# Spark core settings with no dot after spark. (spark.master): a dotless key K that Kyuubi would
# launch as spark.K counts only when it is one of these (`port`, `user`, `region`: user variables).
SPARK_TOP_KEYS = frozenset({
    "archives", "authenticate", "driver", "executor", "extralisteners", "files", "jars", "logconf", "master", "memory",
    "plugins", "python", "serializer", "speculation", "task", "testing", "worker",
})  # fmt: skip
# spark.sql.* settings fixed when the SparkSession starts (StaticSQLConf, HiveUtils' metastore ones)
STATIC_SQL_KEYS = frozenset(k.lower() for k in (
    "spark.sql.broadcastExchange.maxThreadThreshold", "spark.sql.cache.serializer", "spark.sql.catalogImplementation",
    "spark.sql.codegen.cache.maxEntries", "spark.sql.codegen.comments", "spark.sql.debug",
    "spark.sql.defaultUrlStreamHandlerFactory.enabled", "spark.sql.event.truncate.length", "spark.sql.extensions",
    "spark.sql.extensions.test.loadFromCp", "spark.sql.filesourceTableRelationCacheSize",
    "spark.sql.globalTempDatabase", "spark.sql.hive.thriftServer.singleSession",
    "spark.sql.legacy.sessionInitWithConfigDefaults", "spark.sql.metadataCacheTTLSeconds",
    "spark.sql.queryExecutionListeners", "spark.sql.resultQueryStage.maxThreadThreshold",
    "spark.sql.shuffleExchange.maxThreadThreshold", "spark.sql.sources.disabledJdbcConnProviderList",
    "spark.sql.sources.schemaStringLengthThreshold", "spark.sql.streaming.streamingQueryListeners",
    "spark.sql.streaming.ui.enabled", "spark.sql.streaming.ui.enabledCustomMetricList",
    "spark.sql.streaming.ui.retainedProgressUpdates", "spark.sql.streaming.ui.retainedQueries",
    "spark.sql.subquery.maxThreadThreshold", "spark.sql.ui.retainedExecutions", "spark.sql.warehouse.dir",
    "spark.sql.hive.thriftServer.async", "spark.sql.hive.metastore.jars", "spark.sql.hive.metastore.jars.path",
    "spark.sql.hive.metastore.version", "spark.sql.hive.metastore.sharedPrefixes",
    "spark.sql.hive.metastore.barrierPrefixes", "spark.sql.hive.version",
))  # fmt: skip
# Legacy settings that change how a statement is read: which name or CTE a reference resolves to,
# what the parser accepts or drops, what CREATE TABLE makes and where it writes, which class a
# provider name loads, how a stored view is resolved, whether the engine refuses core settings.
# The gateway would check another statement than the engine runs: refused for non-admins.
LEGACY_REFUSED = frozenset(k.lower() for k in (
    "spark.sql.legacy.notReserveProperties",  # TBLPROPERTIES/OPTIONS 'location', 'provider' stop being reserved
    "spark.sql.legacy.ctePrecedencePolicy",  # LEGACY: an outer CTE wins over an inner one of the same name
    "spark.sql.legacy.allowTempViewCreationWithMultipleNameparts",  # CREATE TEMP VIEW db.v
    "spark.sql.legacy.parseQueryWithoutEof",  # the parser stops early and drops the rest of the text
    "spark.sql.legacy.bangEqualsNot",  # `!` reads as NOT in more places
    "spark.sql.legacy.createHiveTableByDefault",  # CREATE TABLE without USING makes a Hive table
    "spark.sql.legacy.allowNonEmptyLocationInCTAS",  # CTAS writes into a location that already holds data
    "spark.sql.legacy.allowCreatingManagedTableUsingNonemptyLocation",  # (removed in Spark 3; same kind)
    "spark.sql.legacy.pathOptionBehavior.enabled",  # a `path` option beside the load path is read too
    "spark.sql.legacy.dataFrameWriterV2IgnorePathOption",
    "spark.sql.legacy.replaceDatabricksSparkAvro.enabled",  # which class USING com.databricks.spark.avro loads
    "spark.sql.legacy.storeAnalyzedPlanForView",  # how a stored view resolves its names
    "spark.sql.legacy.useCurrentConfigsForView",
    "spark.sql.legacy.setCommandRejectsSparkCoreConfs",  # the engine's own refusal of core settings
))  # fmt: skip
# Legacy settings of values, types, output and error shapes: the same tables are read and written.
LEGACY_ALLOWED = frozenset(k.lower() for k in (
    "spark.sql.legacy.addSingleFileInAddFile", "spark.sql.legacy.allowAutoGeneratedAliasForView",
    "spark.sql.legacy.allowEmptySchemaWrite", "spark.sql.legacy.allowHashOnMapType",
    "spark.sql.legacy.allowNegativeScaleOfDecimal", "spark.sql.legacy.allowNullComparisonResultInArraySort",
    "spark.sql.legacy.allowParameterlessCount", "spark.sql.legacy.allowStarWithSingleTableIdentifierInCount",
    "spark.sql.legacy.allowUntypedScalaUDF", "spark.sql.legacy.allowZeroIndexInFormatString",
    "spark.sql.legacy.avro.allowIncompatibleSchema", "spark.sql.legacy.avro.datetimeRebaseModeInRead",
    "spark.sql.legacy.avro.datetimeRebaseModeInWrite", "spark.sql.legacy.bucketedTableScan.outputOrdering",
    "spark.sql.legacy.castComplexTypesToString.enabled", "spark.sql.legacy.charVarcharAsString",
    "spark.sql.legacy.codingErrorAction", "spark.sql.legacy.collationAwareHashFunctions",
    "spark.sql.legacy.compareDateTimestampInTimestamp", "spark.sql.legacy.createEmptyCollectionUsingStringType",
    "spark.sql.legacy.csv.enableDateTimeParsingFallback", "spark.sql.legacy.dataset.nameNonStructGroupingKeyAsValue",
    "spark.sql.legacy.db2.booleanMapping.enabled", "spark.sql.legacy.db2.numericMapping.enabled",
    "spark.sql.legacy.decimal.retainFractionDigitsOnTruncate", "spark.sql.legacy.disableMapKeyNormalization",
    "spark.sql.legacy.doLooseUpcast", "spark.sql.legacy.duplicateBetweenInput", "spark.sql.legacy.earlyEvalCurrentTime",
    "spark.sql.legacy.emptyCurrentDBInCli", "spark.sql.legacy.execution.pandas.groupedMap.assignColumnsByName",
    "spark.sql.legacy.exponentLiteralAsDecimal.enabled", "spark.sql.legacy.extraOptionsBehavior.enabled",
    "spark.sql.legacy.followThreeValuedLogicInArrayExists", "spark.sql.legacy.fromDayTimeString.enabled",
    "spark.sql.legacy.groupingIdWithAppendedUserGroupBy", "spark.sql.legacy.histogramNumericPropagateInputType",
    "spark.sql.legacy.inSubqueryNullability", "spark.sql.legacy.inlineCTEInCommands",
    "spark.sql.legacy.integerGroupingId", "spark.sql.legacy.interval.enabled", "spark.sql.legacy.javaCharsets",
    "spark.sql.legacy.json.allowEmptyString.enabled", "spark.sql.legacy.json.enableDateTimeParsingFallback",
    "spark.sql.legacy.keepCommandOutputSchema", "spark.sql.legacy.keepPartitionSpecAsStringLiteral",
    "spark.sql.legacy.literal.pickMinimumPrecision", "spark.sql.legacy.lpadRpadAlwaysReturnString",
    "spark.sql.legacy.mssqlserver.datetimeoffsetMapping.enabled", "spark.sql.legacy.mssqlserver.numericMapping.enabled",
    "spark.sql.legacy.mysql.bitArrayMapping.enabled", "spark.sql.legacy.mysql.timestampNTZMapping.enabled",
    "spark.sql.legacy.negativeIndexInArrayInsert", "spark.sql.legacy.noCharPaddingInPredicate",
    "spark.sql.legacy.nullInEmptyListBehavior", "spark.sql.legacy.nullValueWrittenAsQuotedEmptyStringCsv",
    "spark.sql.legacy.oracle.timestampMapping.enabled", "spark.sql.legacy.parquet.datetimeRebaseModeInRead",
    "spark.sql.legacy.parquet.datetimeRebaseModeInWrite", "spark.sql.legacy.parquet.int96RebaseModeInRead",
    "spark.sql.legacy.parquet.int96RebaseModeInWrite", "spark.sql.legacy.parquet.nanosAsLong",
    "spark.sql.legacy.parseNullPartitionSpecAsStringLiteral", "spark.sql.legacy.parser.havingWithoutGroupByAsWhere",
    "spark.sql.legacy.percentileDiscCalculation", "spark.sql.legacy.postgres.datetimeMapping.enabled",
    "spark.sql.legacy.raiseErrorWithoutErrorClass", "spark.sql.legacy.readFileSourceTableCacheIgnoreOptions",
    "spark.sql.legacy.respectNullabilityInTextDatasetConversion",
    "spark.sql.legacy.scalarSubqueryAllowGroupByNonEqualityCorrelatedPredicate",
    "spark.sql.legacy.scalarSubqueryCountBugBehavior", "spark.sql.legacy.setopsPrecedence.enabled",
    "spark.sql.legacy.sizeOfNull", "spark.sql.legacy.skipTypeValidationOnAlterPartition",
    "spark.sql.legacy.statisticalAggregate", "spark.sql.legacy.timeParserPolicy",
    "spark.sql.legacy.typeCoercion.datetimeToString.enabled", "spark.sql.legacy.useV1Command",
    "spark.sql.legacy.v1IdentifierNoCatalog", "spark.sql.legacy.viewSchemaBindingMode",
    "spark.sql.legacy.viewSchemaCompensation",
))  # fmt: skip
# ASCII only, as Java reads them: Python's \d and \s would take Arabic-Indic digits and em spaces
_SIZE = re.compile(r"(?ai) *([0-9]+) *([kmgtp]?)(?:i?b)? *")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_WHOLE = re.compile(r"(?a) *([0-9]+) *")


@dataclass(frozen=True)
class ConfBound:
    spec: str  # as written in the policy, for messages
    maximum: int | None = None  # "<=": bytes for a size, else a whole number
    size: bool = False
    choices: frozenset[str] | None = None  # a list of values

    def allows(self, value: str | None) -> bool:
        if self.spec == "*":
            return True
        if value is None:
            return False
        if self.choices is not None:
            return value.strip().lower() in self.choices
        number = size_in_bytes(value, default_unit="m") if self.size else whole_number(value)
        return number is not None and self.maximum is not None and number <= self.maximum

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(sorted(self.choices))
        return "any value" if self.spec == "*" else f"at most {self.spec[2:].strip()}"


def parse_bound(raw: object) -> ConfBound:
    """A policy's spec for one key; ValueError saying what is wrong with it."""
    if isinstance(raw, list):
        if not raw or not all(isinstance(v, str) and v.strip() for v in raw):
            raise ValueError("expected a non-empty list of values")
        return ConfBound(str(raw), choices=frozenset(v.strip().lower() for v in raw))
    if not isinstance(raw, str):
        raise ValueError('expected "*", "<=N", "<=SIZE" (like "<=8g") or a list of values')
    spec = raw.strip()
    if spec == "*":
        return ConfBound("*")
    if not spec.startswith("<="):
        raise ValueError(f'expected "*", "<=N", "<=SIZE" (like "<=8g") or a list of values, got {raw!r}')
    limit = spec[2:]
    whole = whole_number(limit)
    if whole is not None:
        return ConfBound(spec, maximum=whole)
    size = size_in_bytes(limit, default_unit="")
    if size is None:
        raise ValueError(f"expected a whole number or a size like 8g after <=, got {limit.strip()!r}")
    return ConfBound(spec, maximum=size, size=True)


def whole_number(text: str) -> int | None:
    m = _WHOLE.fullmatch(text)
    return int(m.group(1)) if m else None


def size_in_bytes(text: str, default_unit: str) -> int | None:
    """`8g`, `512m`, `1024` (in default_unit): as Spark's JavaUtils.byteStringAs reads them."""
    m = _SIZE.fullmatch(text)
    if m is None:
        return None
    unit = m.group(2).lower() or default_unit
    return int(m.group(1)) * _UNITS[unit]


# What every user a policy names may set without a `conf` entry: executor size and count, bounded.
# A policy's top-level [conf] table replaces this default; a rule's `conf` adds to it.
DEFAULT_CONF_SPECS: dict[str, object] = {
    "spark.executor.memory": "<=8g",
    "spark.executor.cores": "<=4",
    "spark.executor.instances": "<=10",
}
DEFAULT_CONF = MappingProxyType({k: (parse_bound(v),) for k, v in DEFAULT_CONF_SPECS.items()})


def launch_key(name: str, bare: bool = False) -> bool:
    """Does setting `name` (lower case) shape the engine launched for a session? `bare`: the name
    is spark.K for a K the client sent without spark. (Kyuubi's launcher adds it)."""
    if name.startswith("kyuubi."):
        return True
    if not name.startswith("spark."):
        return False
    namespace, dot, _ = name[len("spark.") :].partition(".")
    if namespace == "sql":
        return name in STATIC_SQL_KEYS or name.startswith("spark.sql.hive.thriftserver.")
    if not bare:
        return True
    return namespace in SPARK_NAMESPACES if dot else namespace in SPARK_TOP_KEYS


def legacy_refusal(name: str) -> str:
    """Why a spark.sql.legacy.* setting may not be changed by non-admins ("" when it may)."""
    for k in (name.lower(), "spark." + name.lower()):
        if not k.startswith("spark.sql.legacy."):
            continue
        if k in LEGACY_REFUSED:
            return "it changes how statements are read (what a name resolves to, what a statement reads or writes)"
        if k not in LEGACY_ALLOWED and k not in STATIC_SQL_KEYS:
            return "a legacy setting the gateway has not classified (unknown keys of this kind are refused)"
    return ""


def unclassified(keys: list[str]) -> list[str]:
    """The legacy keys among `keys` neither list places (the oracle test asks about the installed Spark)."""
    known = LEGACY_REFUSED | LEGACY_ALLOWED | STATIC_SQL_KEYS
    return sorted(k for k in keys if k.lower().startswith("spark.sql.legacy.") and k.lower() not in known)
