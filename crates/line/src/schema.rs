//! A small OpenAPI 3.0 schema validator over LINE's official YAML files (feature `schema`).
//!
//! Covers what those files use: `$ref` (file-local JSON pointers), `type`, `nullable`,
//! `enum`, `required`, `properties`, `additionalProperties`, `items`, `minItems`/`maxItems`,
//! `minLength`/`maxLength` (counted in UTF-16 units, as LINE counts), `pattern`,
//! `minimum`/`maximum`, `allOf`/`oneOf`/`anyOf` and `discriminator` with `mapping`: a value
//! of a schema with a discriminator is validated against the mapped schema (whose `allOf`
//! names the base again; the base's own discriminator is then not re-applied).
//! [`Validator::validate_strict`] also reports properties no schema declares (typos).
//!
//! Pure: reads YAML files from a directory, no network. Used by the contract tests and the
//! LINE simulator (`Validator::operation` finds the request schema for a method and path).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot parse {path}: {message}")]
    Yaml { path: String, message: String },
}

/// The official OpenAPI files of one directory.
#[derive(Debug)]
pub struct Validator {
    /// (file name, document), sorted with `messaging-api.yml` first.
    docs: Vec<(String, Value)>,
    regexes: Mutex<BTreeMap<String, Option<regex::Regex>>>,
}

/// An operation of the spec, found by method and concrete path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub file: String,
    pub path_template: String,
    pub method: String,
    pub operation_id: String,
    /// Qualified reference (`file#/...`) of the JSON request body schema, if any.
    pub request_schema: Option<String>,
    /// Status and qualified reference of each JSON response schema.
    pub responses: Vec<(String, String)>,
    /// Path parameters by name.
    pub params: BTreeMap<String, String>,
    /// The query parameters the operation declares.
    pub query: Vec<QueryParam>,
}

/// A declared query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParam {
    pub name: String,
    pub required: bool,
    /// Qualified reference of its schema.
    pub schema: String,
}

fn yaml_to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().map(Value::from).unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(seq.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    other => format!("{other:?}"),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// A JSON pointer lookup (`/components/schemas/X`).
fn pointer<'a>(doc: &'a Value, ptr: &str) -> Option<&'a Value> {
    if ptr.is_empty() {
        return Some(doc);
    }
    let unescaped: Vec<String> = ptr
        .trim_start_matches('/')
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut cur = doc;
    for part in &unescaped {
        cur = match cur {
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => cur.get(part.as_str())?,
        };
    }
    Some(cur)
}

fn escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn addr(v: &Value) -> usize {
    std::ptr::from_ref(v) as usize
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        _ => true,
    }
}

impl Validator {
    /// Loads every `*.yml`/`*.yaml` file of `dir`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, SchemaError> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir).map_err(|source| SchemaError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let mut docs = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.ends_with(".yml") || name.ends_with(".yaml")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|source| SchemaError::Io {
                path: path.display().to_string(),
                source,
            })?;
            let yaml: serde_norway::Value =
                serde_norway::from_str(&text).map_err(|e| SchemaError::Yaml {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
            docs.push((name, yaml_to_json(yaml)));
        }
        docs.sort_by_key(|(name, _)| (name != "messaging-api.yml", name.clone()));
        Ok(Validator {
            docs,
            regexes: Mutex::new(BTreeMap::new()),
        })
    }

    /// The files loaded.
    pub fn files(&self) -> Vec<&str> {
        self.docs.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The document of one file.
    pub fn document(&self, file: &str) -> Option<&Value> {
        self.docs.iter().find(|(n, _)| n == file).map(|(_, d)| d)
    }

    /// Resolves `file.yml#/pointer`, or `#/pointer` in the first file that has it
    /// (`messaging-api.yml` first). Returns the file index and the node.
    fn resolve(&self, reference: &str, from: Option<usize>) -> Option<(usize, &Value)> {
        let (file, ptr) = reference.split_once('#')?;
        if !file.is_empty() {
            let i = self.docs.iter().position(|(n, _)| n == file)?;
            return pointer(&self.docs[i].1, ptr).map(|v| (i, v));
        }
        if let Some(i) = from {
            return pointer(&self.docs[i].1, ptr).map(|v| (i, v));
        }
        self.docs
            .iter()
            .enumerate()
            .find_map(|(i, (_, d))| pointer(d, ptr).map(|v| (i, v)))
    }

    /// The schema node a reference names.
    pub fn schema(&self, reference: &str) -> Option<&Value> {
        self.resolve(reference, None).map(|(_, v)| v)
    }

    /// Validates `value` against the schema `reference` (OpenAPI semantics: undeclared
    /// properties are allowed). Errors are `path: message` strings.
    pub fn validate(&self, reference: &str, value: &Value) -> Result<(), Vec<String>> {
        self.run(reference, value, false)
    }

    /// As [`Validator::validate`], and also refuses properties that no schema declares.
    pub fn validate_strict(&self, reference: &str, value: &Value) -> Result<(), Vec<String>> {
        self.run(reference, value, true)
    }

    fn run(&self, reference: &str, value: &Value, strict: bool) -> Result<(), Vec<String>> {
        let Some((file, node)) = self.resolve(reference, None) else {
            return Err(vec![format!("unknown schema {reference}")]);
        };
        let mut errs = Vec::new();
        self.value(file, node, value, "$", strict, &mut errs);
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// Validates a value reached by descent (root, property, item).
    fn value(
        &self,
        file: usize,
        node: &Value,
        value: &Value,
        path: &str,
        strict: bool,
        errs: &mut Vec<String>,
    ) {
        self.node(file, node, value, path, strict, &[], errs);
        if strict && let Some(obj) = value.as_object() {
            let mut declared = HashSet::new();
            if self.declared(file, node, value, &[], &mut declared, 0) {
                for key in obj.keys() {
                    if !declared.contains(key) {
                        errs.push(format!("{path}.{key}: property not in the schema"));
                    }
                }
            }
        }
    }

    /// Collects the property names the schema declares for `value`; false when the schema
    /// leaves the object open (no properties anywhere, or `additionalProperties`).
    fn declared(
        &self,
        file: usize,
        node: &Value,
        value: &Value,
        skip: &[usize],
        out: &mut HashSet<String>,
        depth: usize,
    ) -> bool {
        if depth > 32 {
            return false;
        }
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            return match self.resolve(r, Some(file)) {
                Some((f, n)) => self.declared(f, n, value, skip, out, depth + 1),
                None => false,
            };
        }
        let mut closed = false;
        if let Some(disc) = node.get("discriminator")
            && !skip.contains(&addr(node))
        {
            if let Some(target) = self.mapped(file, disc, value) {
                let mut skip2 = skip.to_vec();
                skip2.push(addr(node));
                let (f, n) = target;
                return self.declared(f, n, value, &skip2, out, depth + 1);
            }
            return false;
        }
        if node
            .get("additionalProperties")
            .is_some_and(|a| a != &Value::Bool(false))
        {
            return false;
        }
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            out.extend(props.keys().cloned());
            closed = true;
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            if let Some(parts) = node.get(key).and_then(Value::as_array) {
                for part in parts {
                    if !self.declared(file, part, value, skip, out, depth + 1) {
                        if key == "allOf" {
                            // An open part only counts if it has no properties at all.
                            continue;
                        }
                        return false;
                    }
                    closed = true;
                }
            }
        }
        closed
    }

    fn mapped<'a>(
        &'a self,
        file: usize,
        disc: &Value,
        value: &Value,
    ) -> Option<(usize, &'a Value)> {
        let prop = disc.get("propertyName")?.as_str()?;
        let tag = value.get(prop)?.as_str()?;
        let target = disc.get("mapping")?.get(tag)?.as_str()?;
        self.resolve(target, Some(file))
    }

    fn regex_matches(&self, pattern: &str, s: &str) -> bool {
        let mut cache = self
            .regexes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let re = cache
            .entry(pattern.to_owned())
            .or_insert_with(|| regex::Regex::new(pattern).ok());
        re.as_ref().is_none_or(|re| re.is_match(s))
    }

    #[allow(clippy::too_many_arguments)]
    fn node(
        &self,
        file: usize,
        node: &Value,
        value: &Value,
        path: &str,
        strict: bool,
        skip: &[usize],
        errs: &mut Vec<String>,
    ) {
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            match self.resolve(r, Some(file)) {
                Some((f, n)) => self.node(f, n, value, path, strict, skip, errs),
                None => errs.push(format!("{path}: unresolved $ref {r}")),
            }
            return;
        }
        if value.is_null() && node.get("nullable").and_then(Value::as_bool) == Some(true) {
            return;
        }
        if let Some(disc) = node.get("discriminator")
            && !skip.contains(&addr(node))
        {
            let prop = disc
                .get("propertyName")
                .and_then(Value::as_str)
                .unwrap_or("type");
            match value.get(prop).and_then(Value::as_str) {
                None => {
                    if value.is_object() {
                        errs.push(format!("{path}.{prop}: required"));
                    } else {
                        errs.push(format!("{path}: expected object"));
                    }
                }
                Some(tag) => match self.mapped(file, disc, value) {
                    Some((f, n)) => {
                        let mut skip2 = skip.to_vec();
                        skip2.push(addr(node));
                        self.node(f, n, value, path, strict, &skip2, errs);
                    }
                    None => errs.push(format!("{path}.{prop}: unknown value {tag:?}")),
                },
            }
            return;
        }
        if let Some(ty) = node.get("type").and_then(Value::as_str)
            && !type_ok(ty, value)
        {
            errs.push(format!("{path}: expected {ty}"));
            return;
        }
        if let Some(allowed) = node.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errs.push(format!(
                "{path}: {value} is not one of {}",
                Value::Array(allowed.clone())
            ));
        }
        match value {
            Value::String(s) => {
                let len = utf16_len(s);
                if let Some(max) = node.get("maxLength").and_then(Value::as_u64)
                    && len as u64 > max
                {
                    errs.push(format!("{path}: longer than {max}"));
                }
                if let Some(min) = node.get("minLength").and_then(Value::as_u64)
                    && (len as u64) < min
                {
                    errs.push(format!("{path}: shorter than {min}"));
                }
                if let Some(p) = node.get("pattern").and_then(Value::as_str)
                    && !self.regex_matches(p, s)
                {
                    errs.push(format!("{path}: does not match {p}"));
                }
            }
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(0.0);
                if let Some(max) = node.get("maximum").and_then(Value::as_f64)
                    && x > max
                {
                    errs.push(format!("{path}: above {max}"));
                }
                if let Some(min) = node.get("minimum").and_then(Value::as_f64)
                    && x < min
                {
                    errs.push(format!("{path}: below {min}"));
                }
            }
            Value::Array(items) => {
                if let Some(max) = node.get("maxItems").and_then(Value::as_u64)
                    && items.len() as u64 > max
                {
                    errs.push(format!("{path}: more than {max} items"));
                }
                if let Some(min) = node.get("minItems").and_then(Value::as_u64)
                    && (items.len() as u64) < min
                {
                    errs.push(format!("{path}: fewer than {min} items"));
                }
                if let Some(item_schema) = node.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.value(
                            file,
                            item_schema,
                            item,
                            &format!("{path}[{i}]"),
                            strict,
                            errs,
                        );
                    }
                }
            }
            Value::Object(obj) => {
                if let Some(req) = node.get("required").and_then(Value::as_array) {
                    for name in req.iter().filter_map(Value::as_str) {
                        if !obj.contains_key(name) {
                            errs.push(format!("{path}.{name}: required"));
                        }
                    }
                }
                let props = node.get("properties").and_then(Value::as_object);
                if let Some(props) = props {
                    for (name, schema) in props {
                        if let Some(v) = obj.get(name) {
                            self.value(file, schema, v, &format!("{path}.{name}"), strict, errs);
                        }
                    }
                }
                match node.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        for key in obj.keys() {
                            if !props.is_some_and(|p| p.contains_key(key)) {
                                errs.push(format!("{path}.{key}: additional property"));
                            }
                        }
                    }
                    Some(schema @ Value::Object(_)) => {
                        for (key, v) in obj {
                            if !props.is_some_and(|p| p.contains_key(key)) {
                                self.value(file, schema, v, &format!("{path}.{key}"), strict, errs);
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        if let Some(parts) = node.get("allOf").and_then(Value::as_array) {
            for part in parts {
                self.node(file, part, value, path, strict, skip, errs);
            }
        }
        for (key, exactly_one) in [("oneOf", true), ("anyOf", false)] {
            if let Some(parts) = node.get(key).and_then(Value::as_array) {
                let matching = parts
                    .iter()
                    .filter(|part| {
                        let mut e = Vec::new();
                        self.node(file, part, value, path, strict, skip, &mut e);
                        e.is_empty()
                    })
                    .count();
                if matching == 0 || (exactly_one && matching > 1) {
                    errs.push(format!("{path}: matches {matching} of the {key} schemas"));
                }
            }
        }
    }

    /// Finds the operation for `method` and a concrete `path` (query string ignored);
    /// literal segments win over `{parameters}`.
    pub fn operation(&self, method: &str, path: &str) -> Option<Operation> {
        let method = method.to_ascii_lowercase();
        let path = path.split('?').next().unwrap_or(path);
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut best: Option<(usize, Operation)> = None;
        for (fi, (file, doc)) in self.docs.iter().enumerate() {
            let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
                continue;
            };
            for (template, item) in paths {
                let Some(op) = item.get(&method) else {
                    continue;
                };
                let tsegs: Vec<&str> = template.trim_matches('/').split('/').collect();
                if tsegs.len() != segs.len() {
                    continue;
                }
                let mut literal = 0;
                let mut params = BTreeMap::new();
                let mut ok = true;
                for (t, s) in tsegs.iter().zip(&segs) {
                    if t.starts_with('{') && t.ends_with('}') {
                        if s.is_empty() {
                            ok = false;
                            break;
                        }
                        params.insert(t[1..t.len() - 1].to_owned(), (*s).to_owned());
                    } else if t == s {
                        literal += 1;
                    } else {
                        ok = false;
                        break;
                    }
                }
                if !ok || best.as_ref().is_some_and(|(l, _)| *l >= literal) {
                    continue;
                }
                let base = format!("{file}#/paths/{}/{method}", escape(template));
                let json_schema = |content: Option<&Value>, at: &str| -> Option<String> {
                    let content = content?.as_object()?;
                    let (ct, media) = content.iter().find(|(ct, _)| ct.contains("json"))?;
                    let schema = media.get("schema")?;
                    Some(match schema.get("$ref").and_then(Value::as_str) {
                        Some(r) if r.starts_with('#') => format!("{file}{r}"),
                        Some(r) => r.to_owned(),
                        None => format!("{at}/content/{}/schema", escape(ct)),
                    })
                };
                let request_schema = json_schema(
                    op.get("requestBody").and_then(|b| b.get("content")),
                    &format!("{base}/requestBody"),
                );
                let mut responses = Vec::new();
                if let Some(rs) = op.get("responses").and_then(Value::as_object) {
                    for (status, r) in rs {
                        if let Some(s) = json_schema(
                            r.get("content"),
                            &format!("{base}/responses/{}", escape(status)),
                        ) {
                            responses.push((status.clone(), s));
                        }
                    }
                }
                let _ = fi;
                let mut query = Vec::new();
                let item_base = format!("{file}#/paths/{}", escape(template));
                for (owner, at) in [(item, &item_base), (op, &base)] {
                    let Some(list) = owner.get("parameters").and_then(Value::as_array) else {
                        continue;
                    };
                    for (i, p) in list.iter().enumerate() {
                        if p.get("in").and_then(Value::as_str) != Some("query") {
                            continue;
                        }
                        let Some(name) = p.get("name").and_then(Value::as_str) else {
                            continue;
                        };
                        query.push(QueryParam {
                            name: name.to_owned(),
                            required: p.get("required").and_then(Value::as_bool) == Some(true),
                            schema: format!("{at}/parameters/{i}/schema"),
                        });
                    }
                }
                best = Some((
                    literal,
                    Operation {
                        file: file.clone(),
                        path_template: template.clone(),
                        method: method.clone(),
                        operation_id: op
                            .get("operationId")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        request_schema,
                        responses,
                        params,
                        query,
                    },
                ));
            }
        }
        best.map(|(_, op)| op)
    }

    /// Validates a request's query string against the operation's declared parameters:
    /// required ones present, no undeclared ones, each value valid (integers and booleans are
    /// parsed first).
    pub fn validate_query(
        &self,
        op: &Operation,
        query: &[(String, String)],
    ) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        for p in &op.query {
            if p.required && !query.iter().any(|(k, _)| *k == p.name) {
                errs.push(format!("?{}: required", p.name));
            }
        }
        for (k, v) in query {
            let Some(p) = op.query.iter().find(|p| p.name == *k) else {
                errs.push(format!("?{k}: not a parameter of {}", op.operation_id));
                continue;
            };
            let ty = self
                .schema(&p.schema)
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("string");
            let value = match ty {
                "integer" | "number" => v
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::String(v.clone())),
                "boolean" => v
                    .parse::<bool>()
                    .map(Value::Bool)
                    .unwrap_or_else(|_| Value::String(v.clone())),
                _ => Value::String(v.clone()),
            };
            if let Err(e) = self.validate(&p.schema, &value) {
                errs.extend(
                    e.into_iter()
                        .map(|e| format!("?{k}{}", e.trim_start_matches('$'))),
                );
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// An example value for the schema: every property, the first discriminator branch.
    pub fn example(&self, reference: &str) -> Value {
        self.examples(reference, true)
            .into_iter()
            .next()
            .unwrap_or(Value::Null)
    }

    /// Examples covering every discriminator branch reachable from the schema (one value
    /// per branch, spread round-robin over nested choices). `all_properties` false keeps
    /// only required properties.
    pub fn examples(&self, reference: &str, all_properties: bool) -> Vec<Value> {
        match self.resolve(reference, None) {
            Some((f, n)) => self.generate(f, n, &[], all_properties, 0),
            None => Vec::new(),
        }
    }

    fn generate(
        &self,
        file: usize,
        node: &Value,
        skip: &[usize],
        all: bool,
        depth: usize,
    ) -> Vec<Value> {
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            return match self.resolve(r, Some(file)) {
                Some((f, n)) => self.generate(f, n, skip, all, depth + 1),
                None => vec![Value::Null],
            };
        }
        if depth > 24 {
            return vec![Value::Object(Map::new())];
        }
        if let Some(disc) = node.get("discriminator")
            && !skip.contains(&addr(node))
        {
            let prop = disc
                .get("propertyName")
                .and_then(Value::as_str)
                .unwrap_or("type");
            let mut out = Vec::new();
            if let Some(mapping) = disc.get("mapping").and_then(Value::as_object) {
                for (tag, target) in mapping {
                    let Some((f, n)) = target.as_str().and_then(|t| self.resolve(t, Some(file)))
                    else {
                        continue;
                    };
                    let mut skip2 = skip.to_vec();
                    skip2.push(addr(node));
                    // Deep in recursive schemas take one branch only.
                    let mut vs = self.generate(f, n, &skip2, all && depth < 8, depth + 1);
                    vs.truncate(if depth < 8 { usize::MAX } else { 1 });
                    for mut v in vs {
                        if let Some(o) = v.as_object_mut() {
                            o.insert(prop.to_owned(), Value::String(tag.clone()));
                        }
                        out.push(v);
                    }
                    if depth >= 8 {
                        break;
                    }
                }
            }
            return out;
        }
        if let Some(ex) = node.get("example")
            && !ex.is_object()
        {
            return vec![ex.clone()];
        }
        if let Some(first) = node
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return vec![first.clone()];
        }
        if let Some(d) = node.get("default") {
            return vec![d.clone()];
        }
        if let Some(parts) = node.get("allOf").and_then(Value::as_array) {
            // A mapped child generated directly: fix the base's discriminator to its tag.
            let mut skip = skip.to_vec();
            let mut tag: Option<(String, String)> = None;
            for part in parts {
                let Some((f, base)) = part
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| self.resolve(r, Some(file)))
                else {
                    continue;
                };
                let Some(disc) = base.get("discriminator") else {
                    continue;
                };
                if skip.contains(&addr(base)) {
                    continue;
                }
                let prop = disc
                    .get("propertyName")
                    .and_then(Value::as_str)
                    .unwrap_or("type");
                if let Some(mapping) = disc.get("mapping").and_then(Value::as_object) {
                    for (t, target) in mapping {
                        let same = target
                            .as_str()
                            .and_then(|r| self.resolve(r, Some(f)))
                            .is_some_and(|(_, n)| addr(n) == addr(node));
                        if same {
                            skip.push(addr(base));
                            tag = Some((prop.to_owned(), t.clone()));
                        }
                    }
                }
            }
            let skip = skip.as_slice();
            let lists: Vec<Vec<Value>> = parts
                .iter()
                .map(|p| self.generate(file, p, skip, all, depth + 1))
                .collect();
            let mut own = node.clone();
            if let Some(o) = own.as_object_mut() {
                o.remove("allOf");
            }
            let mut lists = lists;
            if own.get("properties").is_some() || own.get("required").is_some() {
                lists.push(self.generate(file, &own, skip, all, depth + 1));
            }
            return round_robin(&lists, |vals| {
                let mut merged = Map::new();
                for v in vals {
                    if let Some(o) = v.as_object() {
                        merged.extend(o.clone());
                    }
                }
                if let Some((prop, t)) = &tag {
                    merged.insert(prop.clone(), Value::String(t.clone()));
                }
                Value::Object(merged)
            });
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = node
                .get(key)
                .and_then(Value::as_array)
                .and_then(|p| p.first())
            {
                return self.generate(file, first, skip, all, depth + 1);
            }
        }
        let ty = node.get("type").and_then(Value::as_str).unwrap_or_else(|| {
            if node.get("properties").is_some() || node.get("required").is_some() {
                "object"
            } else {
                "string"
            }
        });
        match ty {
            "object" => {
                let required: HashSet<&str> = node
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut names = Vec::new();
                let mut lists = Vec::new();
                if let Some(props) = node.get("properties").and_then(Value::as_object) {
                    for (name, schema) in props {
                        if all && depth < 12 || required.contains(name.as_str()) {
                            names.push(name.clone());
                            lists.push(self.generate(file, schema, &[], all, depth + 1));
                        }
                    }
                }
                for name in &required {
                    if !names.iter().any(|n| n == name) {
                        names.push((*name).to_owned());
                        lists.push(vec![Value::String("x".into())]);
                    }
                }
                if all && let Some(extra @ Value::Object(_)) = node.get("additionalProperties") {
                    names.push("key".into());
                    lists.push(self.generate(file, extra, &[], all, depth + 1));
                }
                round_robin(&lists, |vals| {
                    Value::Object(names.iter().cloned().zip(vals.iter().cloned()).collect())
                })
            }
            "array" => {
                let items = node
                    .get("items")
                    .map(|i| self.generate(file, i, &[], all, depth + 1))
                    .unwrap_or_default();
                if items.is_empty() {
                    vec![Value::Array(Vec::new())]
                } else {
                    items.into_iter().map(|i| Value::Array(vec![i])).collect()
                }
            }
            "integer" => vec![Value::from(
                node.get("minimum")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
                    .max(1),
            )],
            "number" => vec![Value::from(1.5)],
            "boolean" => vec![Value::Bool(true)],
            _ => vec![Value::String(self.gen_string(node))],
        }
    }

    fn gen_string(&self, node: &Value) -> String {
        let min = node
            .get("minLength")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1) as usize;
        let max = node
            .get("maxLength")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        match node.get("format").and_then(Value::as_str) {
            Some("uri") => return "https://example.com/a.png".into(),
            Some("date-time") => return "2025-04-01T00:00:00.000Z".into(),
            Some("uuid") => return "123e4567-e89b-42d3-a456-426614174000".into(),
            _ => {}
        }
        if let Some(p) = node.get("pattern").and_then(Value::as_str) {
            let candidates = [
                format!("U{}", "0".repeat(32)),
                "x".repeat(min),
                "20250401".into(),
                "a_1".into(),
                "1".into(),
            ];
            if let Some(c) = candidates
                .into_iter()
                .find(|c| self.regex_matches(p, c) && (c.len() as u64) <= max)
            {
                return c;
            }
        }
        "x".repeat(min)
    }
}

/// Combines per-part example lists: as many results as the longest list, the i-th taking
/// each part's `i % len` element.
fn round_robin(lists: &[Vec<Value>], combine: impl Fn(&[Value]) -> Value) -> Vec<Value> {
    let n = lists.iter().map(Vec::len).max().unwrap_or(0).max(1);
    (0..n)
        .map(|i| {
            let vals: Vec<Value> = lists
                .iter()
                .map(|l| {
                    if l.is_empty() {
                        Value::Null
                    } else {
                        l[i % l.len()].clone()
                    }
                })
                .collect();
            combine(&vals)
        })
        .collect()
}
