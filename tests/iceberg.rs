//! Jobs with an Iceberg target (`target.type: iceberg`), read back by pyiceberg
//! (`common/iceberg_reader.py`), never by dativo: the embedded SQL catalog (a SQLite file that
//! pyiceberg's `SqlCatalog` opens) on a local warehouse, and the REST catalog that SeaweedFS
//! serves beside its S3 API (`common/s3.rs`), with the data files in its bucket. Rows come back
//! exactly, partition specs and values are what pyiceberg sees, appends chain snapshots,
//! overwrite replaces, an incompatible asset names its columns, branches get their own ref,
//! and runs that commit at the same time all land.

#[allow(dead_code)]
#[path = "common/s3.rs"]
mod s3;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use s3::S3Server;

const ASSET: &str = "name: Orders\nversion: \"1.0\"\ndomain: sales\nschema:\n  - {name: id, type: integer, required: true}\n  - {name: customer, type: string}\n  - {name: country, type: string}\n  - {name: amount, type: double}\n  - {name: ordered, type: date}\n";

/// How long one dativo run may take before the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Rows `range` of the input: the CSV text and the rows as pyiceberg reads them back (without
/// `ingest_date`).
fn csv(range: std::ops::Range<u64>) -> (String, Vec<Value>) {
    let countries = ["FR", "DE", "US"];
    let mut text = String::from("id,customer,country,amount,ordered\n");
    let mut rows = Vec::new();
    for i in range {
        let customer = if i % 5 == 0 { String::new() } else { format!("c{i}") };
        let country = countries[(i % 3) as usize];
        let amount = i as f64 * 0.5;
        let day = 1 + i % 28;
        text.push_str(&format!("{i},{customer},{country},{amount},2026-11-{day:02}\n"));
        let customer = if customer.is_empty() { Value::Null } else { json!(customer) };
        rows.push(json!([i, customer, country, amount, format!("2026-11-{day:02}")]));
    }
    (text, rows)
}

/// The rows sorted as the reader sorts them (by their JSON text).
fn sorted(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(|r| r.to_string());
    rows
}

/// A job folder with the asset, an input and a job file.
struct Folder {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Folder {
    fn new() -> Folder {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("asset.yaml"), ASSET).unwrap();
        Folder { dir, env: Vec::new() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        fs::write(self.path(name), text).unwrap();
    }

    /// A job `name` reading `input` into the target block `target` (indented by two).
    fn job(&self, name: &str, input: &str, target: &str) {
        self.write(
            name,
            &format!(
                "asset_path: asset.yaml\nsource:\n  files: [{{path: {input}}}]\ntarget:\n  type: iceberg\n{target}"
            ),
        );
    }

    fn command(&self, job: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dativo"));
        cmd.arg("run").arg("--config").arg(self.path(job)).stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn spawn(&self, job: &str) -> Child {
        self.command(job).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run dativo")
    }

    fn run(&self, job: &str) -> Output {
        wait(self.spawn(job))
    }

    fn run_ok(&self, job: &str) -> String {
        let out = self.run(job);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "dativo run {job} failed:\n{text}");
        text
    }
}

/// Waits for a dativo run, killing it past [`RUN_TIMEOUT`].
fn wait(mut child: Child) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            panic!("dativo run did not finish within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// pyiceberg's view of the table `name` (see `common/iceberg_reader.py`).
fn pyiceberg(env: &[(&str, String)], args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/common/iceberg_reader.py");
    let mut cmd = Command::new(s3::venv().join("bin/python"));
    cmd.arg(script).args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run python");
    assert!(out.status.success(), "iceberg_reader.py {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("iceberg_reader.py prints JSON")
}

/// The reader's environment for the SQL catalog of `folder`.
fn sql_env(folder: &Folder) -> Vec<(&'static str, String)> {
    vec![
        ("ICEBERG_CATALOG", "sql".into()),
        ("ICEBERG_URI", folder.path("catalog.db").display().to_string()),
        ("ICEBERG_WAREHOUSE", format!("file://{}", folder.path("warehouse").display())),
    ]
}

/// The rows of a read, without their last column (`ingest_date`) when `drop_last`.
fn rows_of(table: &Value, drop_last: bool) -> Vec<Value> {
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.as_array().unwrap().clone();
            if drop_last {
                r.pop();
            }
            Value::Array(r)
        })
        .collect()
}

/// Today's date as dativo writes `ingest_date` (the machine's local date, as the tests run it).
fn today() -> String {
    let out = Command::new("date").arg("+%Y-%m-%d").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const SQL_TARGET: &str =
    "  partitioning: [ingest_date, country]\n  catalog: {type: sql, uri: catalog.db, warehouse: warehouse}\n";

#[test]
fn a_sql_catalog_table_is_created_then_appended_and_pyiceberg_reads_every_row() {
    let f = Folder::new();
    let (first, first_rows) = csv(0..300);
    let (second, second_rows) = csv(300..450);
    f.write("one.csv", &first);
    f.write("two.csv", &second);
    f.job("one.yaml", "one.csv", SQL_TARGET);
    f.job("two.yaml", "two.csv", SQL_TARGET);
    f.run_ok("one.yaml");
    let env = sql_env(&f);

    let table = pyiceberg(&env, &["read", "sales.orders"]);
    // The asset is the schema (ids from 1, `required` kept), plus the run's date.
    assert_eq!(
        table["schema"],
        json!([
            [1, "id", "long", true],
            [2, "customer", "string", false],
            [3, "country", "string", false],
            [4, "amount", "double", false],
            [5, "ordered", "date", false],
            [6, "ingest_date", "date", false]
        ])
    );
    assert_eq!(table["spec"], json!([["ingest_date", "identity", "ingest_date"], ["country", "identity", "country"]]));
    assert_eq!(rows_of(&table, true), sorted(first_rows.clone()));
    // Without a name mapping, pyiceberg can only have matched the columns by the files' field ids.
    assert!(table["properties"].get("schema.name-mapping.default").is_none(), "{}", table["properties"]);
    let date = today();
    assert!(table["rows"].as_array().unwrap().iter().all(|r| r[5] == json!(date)), "ingest_date is {date}");
    // One file per partition value, and pyiceberg sees the partition values themselves.
    let days = (chrono_days(&date)).to_string();
    let expected: Vec<String> = ["DE", "FR", "US"].iter().map(|c| format!("[{days}, \"{c}\"]")).collect();
    assert_eq!(table["partitions"], json!(expected));
    assert_eq!(table["files"], json!(3));
    let snapshots = table["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(snapshots[0]["operation"], "append");
    assert_eq!(snapshots[0]["summary"]["total-records"], "300");

    f.run_ok("two.yaml");
    let table = pyiceberg(&env, &["read", "sales.orders"]);
    let mut all = first_rows;
    all.extend(second_rows);
    assert_eq!(rows_of(&table, true), sorted(all.clone()));
    let snapshots = table["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 2, "{snapshots:?}");
    assert_eq!(snapshots[1]["parent"], snapshots[0]["id"]);
    assert_eq!(snapshots[1]["sequence"], json!(2));
    assert_eq!(snapshots[1]["summary"]["total-records"], "450");
    assert_eq!(table["current"], snapshots[1]["id"]);

    // Another writer (pyiceberg) appends, and dativo appends on top of its snapshot.
    let theirs = json!([{"id": 9001, "customer": "py", "country": "FR", "amount": 1.5, "ordered": "2026-10-01", "ingest_date": date}]);
    pyiceberg(&env, &["append", "sales.orders", &theirs.to_string()]);
    f.run_ok("two.yaml");
    let table = pyiceberg(&env, &["read", "sales.orders"]);
    assert_eq!(table["snapshots"].as_array().unwrap().len(), 4);
    all.push(json!([9001, "py", "FR", 1.5, "2026-10-01"]));
    all.extend(csv(300..450).1);
    assert_eq!(rows_of(&table, true), sorted(all));
}

/// Days since 1970-01-01 of `YYYY-MM-DD`, computed by `date` (not by dativo).
fn chrono_days(date: &str) -> i64 {
    let out = Command::new("date").args(["-u", "-d", date, "+%s"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse::<i64>().unwrap() / 86_400
}

#[test]
fn overwrite_replaces_the_rows_and_an_incompatible_asset_names_the_columns() {
    let f = Folder::new();
    let (first, _) = csv(0..100);
    let (second, second_rows) = csv(1000..1040);
    f.write("one.csv", &first);
    f.write("two.csv", &second);
    let target = "  catalog: {type: sql, uri: catalog.db, warehouse: warehouse, namespace: shop.eu, table: orders}\n";
    f.job("one.yaml", "one.csv", target);
    f.job("two.yaml", "two.csv", &format!("{target}  engine: {{options: {{write_mode: overwrite}}}}\n"));
    f.run_ok("one.yaml");
    f.run_ok("two.yaml");
    let env = sql_env(&f);
    let table = pyiceberg(&env, &["read", "shop.eu.orders"]);
    assert_eq!(rows_of(&table, false), sorted(second_rows));
    let snapshots = table["snapshots"].as_array().unwrap();
    assert_eq!(snapshots[1]["operation"], "overwrite");
    assert_eq!(snapshots[1]["summary"]["deleted-records"], "100");
    assert_eq!(table["spec"], json!([]));

    // An asset whose columns differ from the table's: refused before anything is written.
    f.write(
        "other.yaml",
        "name: Orders\nversion: \"1.0\"\nschema:\n  - {name: id, type: string}\n  - {name: customer, type: string}\n  - {name: country, type: string}\n  - {name: amount, type: double}\n  - {name: ordered, type: date}\n  - {name: coupon, type: string}\n",
    );
    f.write(
        "bad.yaml",
        &format!("asset_path: other.yaml\nsource:\n  files: [{{path: bad.csv}}]\ntarget:\n  type: iceberg\n{target}"),
    );
    f.write("bad.csv", "id,customer,country,amount,ordered,coupon\nx1,c,FR,1.5,2026-11-01,SAVE\n");
    let out = f.run("bad.yaml");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(err.contains("`id` is string in the asset but long in the table"), "{err}");
    assert!(err.contains("`coupon` (string) is not a column of the table"), "{err}");
    assert_eq!(pyiceberg(&env, &["read", "shop.eu.orders"])["snapshots"].as_array().unwrap().len(), 2);

    // A bad row after good ones (on_error: fail): the run writes files but commits nothing.
    let (mut good, _) = csv(5000..9000);
    good.push_str("9001,c,FR,not-a-number,2026-11-01\n");
    f.write("broken.csv", &good);
    f.job("broken.yaml", "broken.csv", target);
    let out = f.run("broken.yaml");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success() && err.contains("not-a-number"), "{err}");
    let table = pyiceberg(&env, &["read", "shop.eu.orders"]);
    assert_eq!(table["snapshots"].as_array().unwrap().len(), 2);
    assert_eq!(table["rows"].as_array().unwrap().len(), 40);
}

#[test]
fn two_runs_committing_to_one_sql_table_at_once_both_land() {
    let f = Folder::new();
    let target = "  catalog: {type: sql, uri: catalog.db, warehouse: warehouse}\n";
    // Create the table first, so that both runs load the same snapshot and then race.
    let (seed, mut expected) = csv(0..10);
    f.write("seed.csv", &seed);
    f.job("seed.yaml", "seed.csv", target);
    f.run_ok("seed.yaml");
    for (name, range) in [("a", 1_000..121_000), ("b", 200_000..320_000)] {
        let (text, rows) = csv(range);
        f.write(&format!("{name}.csv"), &text);
        f.job(&format!("{name}.yaml"), &format!("{name}.csv"), target);
        expected.extend(rows);
    }
    let a = f.spawn("a.yaml");
    let b = f.spawn("b.yaml");
    let (a, b) = (wait(a), wait(b));
    let logs: Vec<String> = [&a, &b].iter().map(|o| String::from_utf8_lossy(&o.stderr).to_string()).collect();
    assert!(a.status.success() && b.status.success(), "{logs:?}");
    let table = pyiceberg(&sql_env(&f), &["read", "sales.orders"]);
    assert_eq!(table["rows"].as_array().unwrap().len(), expected.len());
    assert_eq!(rows_of(&table, false), sorted(expected));
    let snapshots = table["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 3);
    // Both loaded the seed snapshot before either committed: the second to commit retried.
    assert!(logs.iter().any(|l| l.contains("retrying on the new snapshot")), "no conflict was retried: {logs:?}");
}

#[test]
fn a_sql_catalog_with_an_s3_warehouse_is_read_back_by_pyiceberg() {
    let server = S3Server::start();
    let f = rest_folder(&server);
    let (text, rows) = csv(0..200);
    f.write("in.csv", &text);
    let target = format!(
        "  partitioning: [country]\n  catalog: {{type: sql, uri: catalog.db, warehouse: \"s3://{}/lake\"}}\n  connection:\n    s3:\n      endpoint: \"${{S3_ENDPOINT}}\"\n      access_key_id: \"${{S3_KEY}}\"\n      secret_access_key: \"${{S3_SECRET}}\"\n",
        s3::BUCKET
    );
    f.job("job.yaml", "in.csv", &target);
    f.run_ok("job.yaml");
    f.run_ok("job.yaml");
    let mut env = rest_env(&server);
    env[0].1 = "sql".into();
    env[1].1 = f.path("catalog.db").display().to_string();
    env[2].1 = format!("s3://{}/lake", s3::BUCKET);
    let table = pyiceberg(&env, &["read", "sales.orders"]);
    assert_eq!(table["location"], json!(format!("s3://{}/lake/sales/orders", s3::BUCKET)));
    let mut twice = rows.clone();
    twice.extend(rows);
    assert_eq!(rows_of(&table, false), sorted(twice));
    assert_eq!(table["snapshots"].as_array().unwrap().len(), 2);
    // The files are in the bucket, under the table's location, as pyarrow lists them.
    let listed = server.query(&["list", &format!("{}/lake/sales/orders", s3::BUCKET)]);
    let names: Vec<&str> = listed.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(names.iter().filter(|n| n.ends_with(".parquet")).count(), 6, "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(".metadata.json")), "{names:?}");
}

#[test]
fn a_run_killed_at_any_moment_leaves_the_table_with_whole_runs_only() {
    let f = Folder::new();
    let target = "  partitioning: [country]\n  catalog: {type: sql, uri: catalog.db, warehouse: warehouse}\n";
    let (text, run_rows) = csv(0..40_000);
    f.write("in.csv", &text);
    f.job("job.yaml", "in.csv", target);
    f.run_ok("job.yaml");
    let env = sql_env(&f);
    // SIGKILL while reading, writing, or committing (the later delays often come after the
    // commit): either the run's snapshot is there whole, or nothing of it is.
    let mut runs = 1;
    for delay_ms in [30u64, 150, 400, 700, 1200, 2500] {
        let mut child = f.spawn("job.yaml");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let table = pyiceberg(&env, &["count", "sales.orders"]);
        let snapshots = table["snapshots"].as_u64().unwrap() as usize;
        assert!(snapshots == runs || snapshots == runs + 1, "{snapshots} snapshots after {runs} runs");
        eprintln!("SIGKILL after {delay_ms} ms: {}", if snapshots > runs { "committed" } else { "no snapshot" });
        runs = snapshots;
        let rows = table["rows"].as_u64().unwrap() as usize;
        assert_eq!(rows, runs * run_rows.len(), "killed after {delay_ms} ms ({status})");
    }
    f.run_ok("job.yaml");
    let table = pyiceberg(&env, &["read", "sales.orders"]);
    let mut expected = Vec::new();
    for _ in 0..runs + 1 {
        expected.extend(run_rows.iter().cloned());
    }
    assert_eq!(rows_of(&table, false), sorted(expected));
}

/// A folder whose jobs write through the server's REST catalog, with the data files in its
/// table bucket.
fn rest_folder(server: &S3Server) -> Folder {
    let mut f = Folder::new();
    f.env = vec![
        ("ICEBERG_URI".into(), server.iceberg_uri.clone()),
        ("S3_ENDPOINT".into(), server.endpoint.clone()),
        ("S3_KEY".into(), server.access_key.clone()),
        ("S3_SECRET".into(), server.secret_key.clone()),
    ];
    f
}

fn rest_target(extra: &str) -> String {
    rest_target_with("    credential: \"${S3_KEY}:${S3_SECRET}\"\n", extra)
}

/// A REST target authenticated by `auth` (the `credential` or `token` line).
fn rest_target_with(auth: &str, extra: &str) -> String {
    format!(
        "  partitioning: [country]\n  catalog:\n    type: rest\n    uri: \"${{ICEBERG_URI}}\"\n    warehouse: warehouse\n{auth}{extra}  connection:\n    s3:\n      endpoint: \"${{S3_ENDPOINT}}\"\n      access_key_id: \"${{S3_KEY}}\"\n      secret_access_key: \"${{S3_SECRET}}\"\n      region: us-east-1\n"
    )
}

fn rest_env(server: &S3Server) -> Vec<(&'static str, String)> {
    vec![
        ("ICEBERG_CATALOG", "rest".into()),
        ("ICEBERG_URI", server.iceberg_uri.clone()),
        ("ICEBERG_WAREHOUSE", "warehouse".into()),
        ("ICEBERG_CREDENTIAL", format!("{}:{}", server.access_key, server.secret_key)),
        ("S3_ENDPOINT", server.endpoint.clone()),
        ("S3_ACCESS_KEY", server.access_key.clone()),
        ("S3_SECRET_KEY", server.secret_key.clone()),
    ]
}

#[test]
fn a_csv_job_to_s3_through_an_iceberg_rest_catalog_is_read_back_by_pyiceberg() {
    let server = S3Server::start();
    let f = rest_folder(&server);
    let env = rest_env(&server);
    let (first, first_rows) = csv(0..500);
    let (second, second_rows) = csv(500..560);
    f.write("one.csv", &first);
    f.write("two.csv", &second);
    f.job("one.yaml", "one.csv", &rest_target(""));
    f.job("dev.yaml", "two.csv", &rest_target("    branch: dev\n"));
    f.run_ok("one.yaml");

    let table = pyiceberg(&env, &["read", "sales.orders"]);
    assert!(table["location"].as_str().unwrap().starts_with("s3://warehouse/"), "{}", table["location"]);
    assert_eq!(table["spec"], json!([["country", "identity", "country"]]));
    assert_eq!(table["partitions"], json!(["[\"DE\"]", "[\"FR\"]", "[\"US\"]"]));
    assert_eq!(rows_of(&table, false), sorted(first_rows.clone()));

    // A branch that does not exist yet starts from main's snapshot; main does not move.
    f.run_ok("dev.yaml");
    let dev = pyiceberg(&env, &["read", "sales.orders", "dev"]);
    let mut both = first_rows.clone();
    both.extend(second_rows);
    assert_eq!(rows_of(&dev, false), sorted(both));
    let main = pyiceberg(&env, &["read", "sales.orders"]);
    assert_eq!(rows_of(&main, false), sorted(first_rows));
    assert_ne!(main["refs"]["dev"], main["refs"]["main"]);
    let dev_snapshot = main["snapshots"].as_array().unwrap().iter().find(|s| s["id"] == main["refs"]["dev"]).cloned();
    assert_eq!(dev_snapshot.unwrap()["parent"], main["refs"]["main"]);

    // A wrong secret: refused by the catalog, and neither secret appears in the output.
    let mut wrong = rest_folder(&server);
    wrong.env[3].1 = "wrong-secret-canary-42".into();
    wrong.job("one.yaml", "one.csv", &rest_target(""));
    fs::copy(f.path("one.csv"), wrong.path("one.csv")).unwrap();
    let out = wrong.run("one.yaml");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("REST catalog"), "{text}");
    assert!(!text.contains("wrong-secret-canary-42") && !text.contains(&server.secret_key), "{text}");

    // A bearer token instead of client credentials (fetched here with Python's urllib).
    let fetch = "import json,sys,urllib.parse,urllib.request\nu,k,s=sys.argv[1:]\nd=urllib.parse.urlencode({'grant_type':'client_credentials','client_id':k,'client_secret':s,'scope':'catalog'}).encode()\nprint(json.load(urllib.request.urlopen(u+'/v1/oauth/tokens',d))['access_token'])";
    let out = Command::new(s3::venv().join("bin/python"))
        .args(["-c", fetch, &server.iceberg_uri, &server.access_key, &server.secret_key])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut with_token = rest_folder(&server);
    with_token.env.push(("TOKEN".into(), String::from_utf8_lossy(&out.stdout).trim().to_string()));
    with_token.job("t.yaml", "t.csv", &rest_target_with("    token: \"${TOKEN}\"\n", ""));
    with_token.write("t.csv", &csv(900..910).0);
    let text = with_token.run_ok("t.yaml");
    assert!(!text.contains(&with_token.env[4].1), "the token shows: {text}");
    let main = pyiceberg(&env, &["read", "sales.orders"]);
    assert_eq!(main["rows"].as_array().unwrap().len(), 510);
}

#[test]
fn a_platform_job_with_the_iceberg_recipe_writes_its_warehouse_and_branch() {
    let server = S3Server::start();
    let f = rest_folder(&server);
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/platform/connectors/iceberg.yaml"),
        f.path("iceberg.yaml"),
    )
    .unwrap();
    let (text, rows) = csv(0..120);
    f.write("in.csv", &text);
    // The platform's keys: the recipe's type and partitioning_default [ingest_date], warehouse,
    // branch and connection.s3; the REST catalog's address and credential in target.catalog
    // (SeaweedFS is not Nessie, whose connection.nessie.uri maps to <base>/iceberg).
    f.write(
        "job.yaml",
        "tenant_id: acme\ntarget_connector: iceberg\ntarget_connector_path: iceberg.yaml\nasset_path: asset.yaml\nsource:\n  files: [{path: in.csv, object: orders}]\ntarget:\n  branch: acme\n  warehouse: warehouse\n  catalog: {uri: \"${ICEBERG_URI}\", credential: \"${S3_KEY}:${S3_SECRET}\"}\n  connection:\n    s3:\n      endpoint: \"${S3_ENDPOINT}\"\n      access_key_id: \"${S3_KEY}\"\n      secret_access_key: \"${S3_SECRET}\"\n      region: us-east-1\n      path_style_access: true\n",
    );
    let out = f.command("job.yaml").current_dir(f.dir.path()).arg("--mode").arg("self_hosted").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = pyiceberg(&rest_env(&server), &["read", "sales.orders", "acme"]);
    assert_eq!(table["spec"], json!([["ingest_date", "identity", "ingest_date"]]));
    assert_eq!(rows_of(&table, true), sorted(rows));
    assert!(table["refs"].get("acme").is_some() && table["refs"].get("main").is_none(), "{}", table["refs"]);
}

#[test]
fn runs_committing_to_one_rest_table_at_once_all_land() {
    let server = S3Server::start();
    let f = rest_folder(&server);
    let (seed, mut expected) = csv(0..5);
    f.write("seed.csv", &seed);
    f.job("seed.yaml", "seed.csv", &rest_target(""));
    f.run_ok("seed.yaml");
    let names = ["a", "b", "c"];
    for (i, name) in names.iter().enumerate() {
        let start = 100_000 * (i as u64 + 1);
        let (text, rows) = csv(start..start + 60_000);
        f.write(&format!("{name}.csv"), &text);
        f.job(&format!("{name}.yaml"), &format!("{name}.csv"), &rest_target(""));
        expected.extend(rows);
    }
    let children: Vec<Child> = names.iter().map(|n| f.spawn(&format!("{n}.yaml"))).collect();
    let outputs: Vec<Output> = children.into_iter().map(wait).collect();
    let logs: Vec<String> = outputs.iter().map(|o| String::from_utf8_lossy(&o.stderr).to_string()).collect();
    assert!(outputs.iter().all(|o| o.status.success()), "{logs:?}");
    let table = pyiceberg(&rest_env(&server), &["read", "sales.orders"]);
    assert_eq!(table["rows"].as_array().unwrap().len(), expected.len());
    assert_eq!(rows_of(&table, false), sorted(expected));
    assert_eq!(table["snapshots"].as_array().unwrap().len(), 4);
    let retried = logs.iter().filter(|l| l.contains("retrying on the new snapshot")).count();
    assert!(retried >= 1, "three runs that loaded one snapshot: the later ones must have retried: {logs:?}");
}
