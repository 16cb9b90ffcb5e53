"""The adversarial corpus: statements, and what the policy below must decide for alice."""

from __future__ import annotations

POLICY = """
[groups]
analysts = ["alice", "bob"]

[[rules]]
name = "analysts"
principals = ["group:analysts"]
read = ["sales.*", "default.events", "Web.Page_Views"]
write = ["scratch_{user}.*"]
routes = ["local"]
max_sessions = 2

[[rules]]
principals = ["user:carol"]
admin = true
"""

# (statement, current database) -> the user reads sales.* and default.events, writes scratch_alice.*
ALLOWED = [
    "SELECT 1",
    "SELECT * FROM sales.orders",
    "select o.id, sum(o.amount) from SALES.Orders o join sales.customers c on o.cid = c.id group by o.id",
    "SELECT * FROM `sales`.`orders` WHERE region = 'eu' -- not a table: default.secret",
    "SELECT /* default.secret */ count(*) FROM spark_catalog.sales.orders",
    "WITH recent AS (SELECT * FROM sales.orders WHERE ts > now() - INTERVAL 7 DAYS) SELECT count(*) FROM recent",
    "WITH secret AS (SELECT * FROM sales.orders) SELECT * FROM secret",
    "SELECT * FROM sales.a UNION ALL SELECT * FROM sales.b EXCEPT SELECT * FROM sales.c",
    "SELECT * FROM (SELECT id FROM sales.orders) t WHERE id IN (SELECT id FROM sales.refunds)",
    "SELECT id, row_number() OVER (PARTITION BY cid ORDER BY ts) FROM sales.orders",
    "SELECT * FROM sales.orders LATERAL VIEW explode(items) t AS item",
    "SELECT region, product, sum(amount) FROM sales.orders GROUP BY CUBE (region, product)",
    "SELECT * FROM events",
    "SELECT * FROM web.page_views",
    "SELECT * FROM range(100)",
    "SELECT * FROM VALUES (1, 'a'), (2, 'b') AS t(id, name)",
    "SELECT transform(array(1, 2), x -> x + 1)",
    "SELECT /*+ BROADCAST(c) */ * FROM sales.orders o JOIN sales.customers c ON o.cid = c.id",
    "TABLE sales.orders",
    "EXPLAIN SELECT * FROM sales.orders",
    "EXPLAIN FORMATTED SELECT * FROM sales.orders",
    "DESCRIBE sales.orders",
    "DESCRIBE TABLE EXTENDED sales.orders",
    "SHOW TABLES IN sales",
    "SHOW DATABASES",
    "SHOW FUNCTIONS",
    "SHOW CREATE TABLE sales.orders",
    "SHOW COLUMNS IN orders IN sales",
    "CREATE TABLE scratch_alice.t (id INT) USING parquet",
    "CREATE TABLE scratch_alice.top AS SELECT * FROM sales.orders LIMIT 10",
    "INSERT INTO scratch_alice.t SELECT id FROM sales.orders",
    "INSERT OVERWRITE TABLE scratch_alice.t SELECT id FROM sales.orders",
    "FROM sales.orders INSERT INTO scratch_alice.t SELECT id",
    "DROP TABLE IF EXISTS scratch_alice.t",
    "ALTER TABLE scratch_alice.t ADD COLUMNS (note STRING)",
    "CREATE VIEW scratch_alice.v AS SELECT * FROM sales.orders",
    "CREATE OR REPLACE TEMPORARY VIEW recent AS SELECT * FROM sales.orders",
    "CREATE DATABASE IF NOT EXISTS scratch_alice",
    "CACHE TABLE sales.orders",
    "UNCACHE TABLE IF EXISTS sales.orders",
    "SET spark.sql.shuffle.partitions = 16",
    "SET spark.sql.shuffle.partitions",
    "SET",
    "SET -v",
    "SET adhoc.route = local",
    "USE sales",
    "SELECT * FROM sales.orders; SELECT * FROM default.events",
    "SELECT * FROM IDENTIFIER('sales.orders')",
    "DECLARE VARIABLE region STRING DEFAULT 'eu'",
    "MSCK REPAIR TABLE scratch_alice.t",
    "ANALYZE TABLE scratch_alice.t COMPUTE STATISTICS",
    "ALTER TABLE scratch_alice.t RENAME TO scratch_alice.t2",
    "ALTER TABLE scratch_alice.t RENAME TO t2",  # unqualified: stays in scratch_alice, as Spark does
    "ALTER TABLE scratch_alice.t SET TBLPROPERTIES ('comment' = 'mine')",
    "CREATE TABLE scratch_alice.h (id INT) STORED AS ORC",
    "CREATE TABLE scratch_alice.d (id INT) USING `delta`",
    "RESET",
    "RESET spark.sql.shuffle.partitions",
    "VALUES (1, 'a'), (2, 'b')",
    "COMMENT ON TABLE scratch_alice.t IS 'mine'",
]

# statement -> a piece of the reason
DENIED = [
    ("SELECT * FROM hr.salaries", "may not read hr.salaries"),
    ("select * from HR.SALARIES", "may not read hr.salaries"),
    ("SELECT * FROM `hr`.`salaries`", "may not read hr.salaries"),
    ("SELECT * FROM spark_catalog.hr.salaries", "may not read hr.salaries"),
    ("SELECT * FROM secret", "may not read default.secret"),
    ("WITH secret AS (SELECT * FROM secret) SELECT * FROM secret", "may not read default.secret"),
    ("WITH a AS (SELECT * FROM sales.orders) SELECT * FROM a JOIN hr.salaries", "may not read hr.salaries"),
    ("SELECT * FROM (WITH s AS (SELECT 1) SELECT * FROM s) x JOIN s", "may not read default.s"),
    ("SELECT * FROM sales.orders WHERE cid IN (SELECT id FROM hr.people)", "may not read hr.people"),
    ("SELECT (SELECT max(pay) FROM hr.salaries) FROM sales.orders", "may not read hr.salaries"),
    ("SELECT * FROM sales.orders UNION SELECT * FROM hr.salaries", "may not read hr.salaries"),
    ("FROM hr.salaries INSERT INTO scratch_alice.t SELECT *", "may not read hr.salaries"),
    ("INSERT INTO sales.orders SELECT * FROM sales.orders", "may not write sales.orders"),
    ("INSERT INTO scratch_bob.t SELECT 1", "may not write scratch_bob.t"),
    ("CREATE TABLE sales.copy AS SELECT * FROM sales.orders", "may not write sales.copy"),
    ("CREATE TABLE scratch_alice.c AS SELECT * FROM hr.salaries", "may not read hr.salaries"),
    ("DROP TABLE sales.orders", "may not write sales.orders"),
    ("TRUNCATE TABLE sales.orders", "may not write sales.orders"),
    ("ALTER TABLE sales.orders ADD COLUMNS (x INT)", "may not write sales.orders"),
    ("CREATE VIEW scratch_alice.v AS SELECT * FROM hr.salaries", "may not read hr.salaries"),
    ("CREATE TEMPORARY VIEW leak AS SELECT * FROM hr.salaries", "may not read hr.salaries"),
    ("CREATE DATABASE sales2", "may not create, alter or drop database sales2"),
    ("DROP DATABASE sales CASCADE", "may not create, alter or drop database sales"),
    ("TABLE hr.salaries", "may not read hr.salaries"),
    ("EXPLAIN SELECT * FROM hr.salaries", "may not read hr.salaries"),
    ("DESCRIBE hr.salaries", "may not read hr.salaries"),
    ("SHOW CREATE TABLE hr.salaries", "may not read hr.salaries"),
    ("CACHE TABLE c AS SELECT * FROM hr.salaries", "may not read hr.salaries"),
    (
        "MERGE INTO sales.orders t USING scratch_alice.s s ON t.id = s.id WHEN MATCHED THEN DELETE",
        "may not write sales.orders",
    ),
    ("SELECT * FROM parquet.`/warehouse/hr/salaries`", "direct file access"),
    ("SELECT * FROM csv.`s3a://bucket/hr.csv`", "direct file access"),
    ("CREATE TABLE scratch_alice.ext (id INT) USING parquet LOCATION '/warehouse/hr/salaries'", "LOCATION"),
    ("CREATE TABLE scratch_alice.p USING parquet OPTIONS (path '/warehouse/hr') AS SELECT 1", "OPTIONS (path"),
    ("ALTER TABLE scratch_alice.t SET LOCATION '/warehouse/hr/salaries'", "LOCATION"),
    ("INSERT OVERWRITE DIRECTORY '/tmp/out' SELECT * FROM sales.orders", "INSERT OVERWRITE DIRECTORY"),
    ("INSERT OVERWRITE LOCAL DIRECTORY '/tmp/out' SELECT 1", "INSERT OVERWRITE DIRECTORY"),
    ("LOAD DATA INPATH '/tmp/x' INTO TABLE scratch_alice.t", "LOAD DATA"),
    ("ADD JAR /tmp/evil.jar", "ADD JAR"),
    ("add   file /etc/passwd", "ADD JAR/FILE"),
    ("ADD ARCHIVE /tmp/a.zip", "ADD JAR/FILE/ARCHIVE"),
    ("CREATE FUNCTION scratch_alice.f AS 'com.evil.UDF' USING JAR '/tmp/evil.jar'", "CREATE FUNCTION"),
    ("CREATE TEMPORARY FUNCTION f AS 'com.evil.UDF'", "CREATE FUNCTION"),
    ("SELECT reflect('java.lang.Runtime', 'getRuntime')", "reflect()"),
    ("SELECT java_method('java.lang.System', 'exit', 0)", "java_method()"),
    ("SELECT upper(REFLECT('java.lang.Thread', 'sleep', 1000L)) FROM sales.orders", "reflect()"),
    ("SELECT try_reflect('java.lang.Thread', 'sleep', 1L)", "try_reflect()"),
    ("EXECUTE IMMEDIATE 'SELECT * FROM hr.salaries'", "EXECUTE IMMEDIATE"),
    ("SELECT * FROM IDENTIFIER(:tbl)", "IDENTIFIER()"),
    ("SELECT * FROM IDENTIFIER('hr.salaries')", "may not read hr.salaries"),
    ("SET spark.master = local[*]", "may not SET spark.master"),
    ("SET spark.yarn.queue = root.prod", "may not SET spark.yarn.queue"),
    ("SET spark.kubernetes.namespace = prod", "may not SET spark.kubernetes.namespace"),
    ("set SPARK.SQL.EXTENSIONS = com.evil.Ext", "may not SET spark.sql.extensions"),
    ("SET adhoc.user = carol", "may not SET adhoc.user"),
    ("SET `adhoc.policy` = none", "may not SET adhoc.policy"),
    ("SELECT * FROM other_catalog.sales.orders", "could not be fully analysed"),
    ("SELECT * FROM read_files('/warehouse/hr')", "could not be fully analysed"),
    ("SELEC * FROM sales.orders", "could not be fully analysed"),
    # Spark reads the trailing WHERE as a table alias; sqlglot cannot: refused, fail closed.
    ("SELECT * FROM sales.orders WHERE", "could not be fully analysed"),
    ("SELECT * FROM (sales.orders", "could not be fully analysed"),
    ("SELECT 1; SELECT * FROM hr.salaries; SELECT 2", "may not read hr.salaries"),
    ("USE hr; SELECT * FROM salaries", "may not read hr.salaries"),
    # RENAME TO creates the new name: moving a scratch table into a read-only database is a write
    ("ALTER TABLE scratch_alice.t RENAME TO sales.orders_v2", "may not write sales.orders_v2"),
    ("ALTER VIEW scratch_alice.v RENAME TO sales.v", "may not write sales.v"),
    ("USE sales; ALTER TABLE scratch_alice.t RENAME TO sales.t", "may not write sales.t"),
    # a data source table's location is its 'path' property: pointing one at others' files
    ("ALTER TABLE scratch_alice.t SET SERDEPROPERTIES ('path' = '/warehouse/hr/salaries')", "'path' property"),
    ("ALTER TABLE scratch_alice.t SET TBLPROPERTIES ('PATH' = '/warehouse/hr')", "'path' property"),
    # data sources that reach outside the warehouse, from inside the cluster's network
    (
        "CREATE TABLE scratch_alice.j USING jdbc OPTIONS (url 'jdbc:postgresql://hr-db/hr', dbtable 'pay')",
        "data source jdbc",
    ),
    ("CREATE TABLE scratch_alice.k USING kafka OPTIONS (subscribe 'x')", "data source kafka"),
    ("CREATE TABLE scratch_alice.e USING org.example.EvilSource", "could not be fully analysed"),
    # settings that swap what the session trusts: catalogs, metastore, Hadoop filesystem conf
    ("SET spark.sql.catalog.spark_catalog = org.example.EvilCatalog", "may not SET spark.sql.catalog.spark_catalog"),
    ("SET spark.sql.catalog.mine = org.example.Catalog", "may not SET spark.sql.catalog.mine"),
    ("SET spark.hadoop.fs.s3a.endpoint = http://evil:9000", "may not SET spark.hadoop.fs.s3a.endpoint"),
    ("SET fs.s3a.endpoint = http://evil:9000", "may not SET fs.s3a.endpoint"),
    ("RESET spark.sql.extensions", "may not SET spark.sql.extensions"),
    # Spark rewrites ${...} in the raw text after the check: a SET value becomes SQL, env leaks
    ("SELECT ${spark.sql.shuffle.partitions} AS n FROM sales.orders", "variable substitution"),
    ("SELECT '${env:HOME}' AS leak", "variable substitution"),
    ("SELECT * FROM sales.orders -- ${hivevar:x}", "variable substitution"),
    ("SET hive.server2.proxy.user = carol", "may not SET hive.server2.proxy.user"),
    ("COMMENT ON TABLE sales.orders IS 'mine now'", "may not write sales.orders"),
    ("COMMENT ON DATABASE sales IS 'x'", "may not create, alter or drop database sales"),
    ("VALUES ((SELECT max(pay) FROM hr.salaries))", "may not read hr.salaries"),
]

# Statements in the corpus that Spark itself would refuse to parse: the analyser must not allow them.
NOT_SPARK_SQL = {"SELEC * FROM sales.orders", "SELECT * FROM (sales.orders"}
