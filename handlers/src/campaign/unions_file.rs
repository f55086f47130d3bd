//! Reading the unions CSV (SPEC §7.3: `code,name,parent,level,officers,<metric key>…`) into the
//! union tree, reporting every problem with its line.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::campaign_file::FIXED_COLUMNS;
use super::model::{Union, UnionLevel, Unions};
use super::problems::FileProblems;
use super::values::short_name;

/// A union row as read, with the line it came from.
struct Row {
    union: Union,
    line: usize,
}

/// The columns the header names, by position.
struct Header {
    fixed: HashMap<&'static str, usize>,
    /// Metric key and column position.
    metrics: Vec<(String, usize)>,
    width: usize,
}

fn parse_level(text: &str) -> Option<UnionLevel> {
    match text.to_ascii_lowercase().as_str() {
        "province" | "省" => Some(UnionLevel::Province),
        "city" | "市" => Some(UnionLevel::City),
        "county" | "县" => Some(UnionLevel::County),
        "industry" | "产业" => Some(UnionLevel::Industry),
        "grassroots" | "基层" => Some(UnionLevel::Grassroots),
        _ => None,
    }
}

/// WeCom userids are 1–64 letters, digits and `_ - . @`.
fn valid_userid(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'))
}

fn valid_code(code: &str) -> bool {
    (1..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Parses the CSV text (BOM already removed). `metric_keys` are the campaign's metrics: every
/// other column is a problem. Returns the unions and the metric columns the header has.
pub(crate) fn read_unions(
    text: &str,
    metric_keys: &[&str],
    sink: &mut FileProblems,
) -> (Unions, Vec<String>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut header: Option<Header> = None;
    let mut rows: Vec<Row> = Vec::new();
    // Code, name and line of every row, valid or not, so duplicates are found among all rows and
    // a child of a bad row is not reported as an orphan.
    let mut declared: Vec<(String, String, usize)> = Vec::new();
    for result in reader.records() {
        let record = match result {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                sink.at_line(line, format!("unreadable CSV: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(str::is_empty) {
            continue;
        }
        match &header {
            None => header = Some(read_header(&record, line, metric_keys, sink)),
            Some(h) => {
                let cell = |name: &str| {
                    h.fixed
                        .get(name)
                        .and_then(|i| record.get(*i))
                        .unwrap_or("")
                        .to_string()
                };
                declared.push((cell("code"), cell("name"), line));
                if let Some(row) = read_row(&record, line, h, sink) {
                    rows.push(row);
                }
            }
        }
    }
    let Some(header) = header else {
        sink.at_line(
            0,
            "the unions file is empty: it needs a header row and one row per union",
        );
        return (Unions::default(), Vec::new());
    };
    if rows.is_empty() {
        sink.at_line(0, "the unions file lists no unions");
    }
    check_unique(&declared, sink);
    let codes: HashSet<String> = declared.into_iter().map(|(code, _, _)| code).collect();
    check_tree(&rows, &codes, sink);
    let columns = header.metrics.into_iter().map(|(k, _)| k).collect();
    let list = rows.into_iter().map(|r| r.union).collect();
    (Unions { list }, columns)
}

fn read_header(
    record: &csv::StringRecord,
    line: usize,
    metric_keys: &[&str],
    sink: &mut FileProblems,
) -> Header {
    let mut fixed = HashMap::new();
    let mut metrics: Vec<(String, usize)> = Vec::new();
    for (i, column) in record.iter().enumerate() {
        if let Some(name) = FIXED_COLUMNS.iter().find(|c| **c == column) {
            if fixed.insert(*name, i).is_some() {
                sink.at_line(
                    line,
                    format!("column `{column}` appears twice in the header"),
                );
            }
        } else if metrics.iter().any(|(k, _)| k == column) {
            sink.at_line(
                line,
                format!("column `{column}` appears twice in the header"),
            );
        } else if metric_keys.contains(&column) {
            metrics.push((column.to_string(), i));
        } else {
            sink.at_line(
                line,
                format!(
                    "column `{column}` is not a metric of the campaign (metrics: {})",
                    if metric_keys.is_empty() {
                        "none".to_string()
                    } else {
                        metric_keys.join(", ")
                    }
                ),
            );
        }
    }
    for name in FIXED_COLUMNS {
        if !fixed.contains_key(name) {
            sink.at_line(
                line,
                format!(
                    "the header has no `{name}` column; it must start with {}",
                    FIXED_COLUMNS.join(",")
                ),
            );
        }
    }
    Header {
        fixed,
        metrics,
        width: record.len(),
    }
}

fn read_row(
    record: &csv::StringRecord,
    line: usize,
    header: &Header,
    sink: &mut FileProblems,
) -> Option<Row> {
    if record.len() != header.width {
        sink.at_line(
            line,
            format!(
                "this row has {} fields but the header has {}",
                record.len(),
                header.width
            ),
        );
        return None;
    }
    let cell = |name: &str| {
        header
            .fixed
            .get(name)
            .and_then(|i| record.get(*i))
            .unwrap_or("")
    };
    let mut ok = true;

    let code = cell("code");
    if !valid_code(code) {
        sink.at_line(
            line,
            format!("union code `{code}` must be 1–32 ASCII letters, digits, `-` or `_`"),
        );
        ok = false;
    }
    let name = cell("name");
    if name.is_empty() {
        sink.at_line(line, format!("union `{code}` has no name"));
        ok = false;
    }
    let parent = Some(cell("parent")).filter(|p| !p.is_empty());
    let level = parse_level(cell("level"));
    if level.is_none() {
        sink.at_line(
            line,
            format!(
                "unknown level `{}` for union `{code}`: expected province, city, county, industry \
                 or grassroots",
                cell("level")
            ),
        );
    }
    let mut officers = Vec::new();
    for id in cell("officers")
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if valid_userid(id) {
            officers.push(id.to_string());
        } else {
            sink.at_line(
                line,
                format!(
                    "officer `{id}` is not a WeCom userid (letters, digits, _ - . @; separate \
                     several with |)"
                ),
            );
            ok = false;
        }
    }
    let mut targets = BTreeMap::new();
    for (metric, i) in &header.metrics {
        let text = record.get(*i).unwrap_or("");
        if text.is_empty() {
            continue;
        }
        match text.parse::<i64>() {
            Ok(n) if n >= 0 => {
                targets.insert(metric.clone(), n);
            }
            _ => {
                sink.at_line(
                    line,
                    format!(
                        "target `{text}` for `{metric}` of union `{code}` must be a whole number \
                         of at least 0 (leave it empty for no quota)"
                    ),
                );
                ok = false;
            }
        }
    }
    let level = level?;
    ok.then(|| Row {
        union: Union {
            code: code.to_string(),
            name: name.to_string(),
            short_name: short_name(name),
            parent: parent.map(str::to_string),
            level,
            officers,
            targets,
        },
        line,
    })
}

/// Codes (case-insensitively: users type them) and names must each name one union.
fn check_unique(rows: &[(String, String, usize)], sink: &mut FileProblems) {
    let mut codes: HashMap<String, usize> = HashMap::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (code, name, line) in rows {
        if code.is_empty() || name.is_empty() {
            continue; // reported as a bad row already
        }
        match codes.get(&code.to_ascii_lowercase()) {
            Some(first) => sink.at_line(
                *line,
                format!("duplicate union code `{code}` (first on line {first})"),
            ),
            None => {
                codes.insert(code.to_ascii_lowercase(), *line);
            }
        }
        match names.get(name.as_str()) {
            Some(first) => sink.at_line(
                *line,
                format!("duplicate union name `{name}` (first on line {first})"),
            ),
            None => {
                names.insert(name, *line);
            }
        }
    }
}

/// Every parent exists and following parents always ends at a root.
fn check_tree(rows: &[Row], declared: &HashSet<String>, sink: &mut FileProblems) {
    let by_code: HashMap<&str, &Row> = rows.iter().map(|r| (r.union.code.as_str(), r)).collect();
    for row in rows {
        if let Some(parent) = &row.union.parent {
            if !declared.contains(parent) {
                sink.at_line(
                    row.line,
                    format!(
                        "union `{}` has parent `{parent}`, which is not a union code in this file",
                        row.union.code
                    ),
                );
            }
        }
    }
    // Walk up from every union; a walk that meets itself found a cycle. Report each cycle once.
    let mut in_reported_cycle: HashSet<&str> = HashSet::new();
    for row in rows {
        let start = row.union.code.as_str();
        if in_reported_cycle.contains(start) {
            continue;
        }
        let mut path: Vec<&str> = vec![start];
        let mut current = row;
        while let Some(parent) = current.union.parent.as_deref() {
            let Some(next) = by_code.get(parent) else {
                break;
            };
            if let Some(pos) = path.iter().position(|c| *c == parent) {
                let cycle = &path[pos..];
                if cycle.contains(&start) {
                    let mut shown: Vec<&str> = cycle.to_vec();
                    shown.push(parent);
                    sink.at_line(
                        row.line,
                        format!("unions form a cycle: {}", shown.join(" → ")),
                    );
                    in_reported_cycle.extend(cycle.iter().copied());
                }
                break;
            }
            path.push(parent);
            current = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn read(text: &str, metrics: &[&str]) -> (Unions, Vec<String>, Vec<String>) {
        let mut sink = FileProblems::new(Path::new("u.csv"), text);
        let (unions, columns) = read_unions(text, metrics, &mut sink);
        let problems = sink.problems.iter().map(ToString::to_string).collect();
        (unions, columns, problems)
    }

    #[test]
    fn reads_a_small_tree() {
        let (unions, columns, problems) = read(
            "code,name,parent,level,officers,offline\n\
             hrb-dl,道里区总工会,hrb,county,,\n\
             hlj,黑龙江省总工会,,province,a1|a2,\n\
             hrb,哈尔滨市总工会,hlj,city, b1 ,10\n",
            &["offline"],
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(columns, vec!["offline".to_string()]);
        let hrb = unions.get("hrb").unwrap();
        assert_eq!(hrb.short_name, "哈尔滨");
        assert_eq!(hrb.officers, vec!["b1".to_string()]);
        assert_eq!(hrb.targets.get("offline"), Some(&10));
        assert_eq!(unions.get("hlj").unwrap().officers.len(), 2);
        assert!(unions.get("hrb-dl").unwrap().targets.is_empty());
    }

    #[test]
    fn reports_each_bad_row_with_its_line() {
        let (_, _, problems) = read(
            "code,name,parent,level,officers,offline\n\
             a,甲工会,,province,,\n\
             b,乙工会,zz,city,,\n\
             c,丙工会,a,town,,\n\
             d,丁工会,a,city,,-1\n\
             e,戊工会,a,city,,3.5\n\
             A,己工会,a,city,,\n\
             f,甲工会,a,city,,\n\
             g,庚工会,a,city\n\
             h,辛工会,a,city,bad id,\n",
            &["offline"],
        );
        let expect = [
            "u.csv:3: union `b` has parent `zz`",
            "u.csv:4: unknown level `town`",
            "u.csv:5: target `-1`",
            "u.csv:6: target `3.5`",
            "u.csv:7: duplicate union code `A` (first on line 2)",
            "u.csv:8: duplicate union name `甲工会` (first on line 2)",
            "u.csv:9: this row has 4 fields",
            "u.csv:10: officer `bad id`",
        ];
        for e in expect {
            assert!(
                problems.iter().any(|p| p.starts_with(e)),
                "missing {e}: {problems:#?}"
            );
        }
        assert_eq!(problems.len(), expect.len(), "{problems:#?}");
    }

    #[test]
    fn reports_a_cycle_once() {
        let (_, _, problems) = read(
            "code,name,parent,level,officers\n\
             root,根工会,,province,\n\
             x,甲工会,y,city,\n\
             y,乙工会,z,city,\n\
             z,丙工会,x,city,\n\
             w,丁工会,x,county,\n",
            &[],
        );
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with("u.csv:3: unions form a cycle: x → y → z → x"));
    }

    #[test]
    fn header_problems() {
        let (_, _, problems) = read(
            "code,name,level,officers,offline,extra\nroot,根工会,province,,1,\n",
            &["offline", "registrations"],
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("`extra` is not a metric")),
            "{problems:#?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("no `parent` column")),
            "{problems:#?}"
        );
    }
}
