//! Parquet, as Hugging Face `datasets` (`Dataset.to_parquet`, the Hub's parquet exports),
//! pandas and polars write it. Read through the crate's row API: rows become JSON columns, and
//! from there the same [`Source::problem`] as JSON lines applies.
use std::fs::File;
use std::path::Path;

use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::{Field, Row};
use serde_json::{Map, Number, Value};

use super::row::Source;
use super::{Collector, DataError, RowRef};

/// The codecs compiled in (crates/envs/Cargo.toml), for the error a file with another one gets.
const CODECS: &str = "uncompressed, snappy, gzip and zstd";

pub(super) fn read(path: &Path, source: &Source, rows: &mut Collector) -> Result<(), DataError> {
    let format_error = |message: String| DataError::Format {
        path: source.path.to_string(),
        message,
    };
    let file = File::open(path).map_err(|e| DataError::Io {
        path: source.path.to_string(),
        source: e,
    })?;
    let reader = SerializedFileReader::new(file)
        .map_err(|e| format_error(format!("not a readable Parquet file: {e}")))?;
    check_columns(&reader, source)?;
    let iter = reader
        .get_row_iter(None)
        .map_err(|e| format_error(explain(e)))?;
    for (index, row) in iter.enumerate() {
        // A row that fails to decode means a damaged file or an unsupported codec, which no
        // skipping can fix: it ends the load whatever the bad-row policy.
        let row = row.map_err(|e| format_error(format!("row {index}: {}", explain(e))))?;
        let problem = source
            .problem(index, columns(&row), None)
            .map_err(|fault| source.bad_row(RowRef::Row(index), fault));
        rows.push(problem)?;
    }
    Ok(())
}

/// A column the field map names but the schema lacks is missing from every row: one error for
/// the file says so better than a bad row per row.
fn check_columns(reader: &SerializedFileReader<File>, source: &Source) -> Result<(), DataError> {
    let schema = reader.metadata().file_metadata().schema();
    let names: Vec<&str> = if schema.is_group() {
        schema.get_fields().iter().map(|f| f.name()).collect()
    } else {
        Vec::new()
    };
    let fields = source.fields;
    let wanted = [
        ("prompt", Some(fields.prompt.as_str())),
        ("answer", fields.answer.as_deref()),
    ];
    for (role, column) in wanted {
        if let Some(column) = column.filter(|c| !names.contains(c)) {
            return Err(DataError::MissingColumn {
                path: source.path.to_string(),
                column: column.to_string(),
                role,
                columns: names.join(", "),
            });
        }
    }
    Ok(())
}

fn explain(e: ::parquet::errors::ParquetError) -> String {
    let message = e.to_string();
    if message.contains("Disabled feature") {
        format!("{message}; this build reads {CODECS} Parquet files: rewrite the file with one of those (pyarrow's default is snappy)")
    } else {
        message
    }
}

fn columns(row: &Row) -> Map<String, Value> {
    row.get_column_iter()
        .map(|(name, field)| (name.clone(), to_json(field)))
        .collect()
}

/// A Parquet value as the JSON value `datasets.Dataset.to_json` would write for it.
fn to_json(field: &Field) -> Value {
    match field {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(n) => Value::from(*n),
        Field::Short(n) => Value::from(*n),
        Field::Int(n) => Value::from(*n),
        Field::Long(n) => Value::from(*n),
        Field::UByte(n) => Value::from(*n),
        Field::UShort(n) => Value::from(*n),
        Field::UInt(n) => Value::from(*n),
        Field::ULong(n) => Value::from(*n),
        Field::Float16(x) => float32(x.to_f32()),
        Field::Float(x) => float32(*x),
        Field::Double(x) => {
            Number::from_f64(*x).map_or_else(|| Value::String(x.to_string()), Value::Number)
        }
        Field::Str(s) => Value::String(s.clone()),
        Field::Bytes(b) => match std::str::from_utf8(b.data()) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => Value::Array(b.data().iter().map(|&x| Value::from(x)).collect()),
        },
        Field::Group(row) => Value::Object(columns(row)),
        Field::ListInternal(list) => Value::Array(list.elements().iter().map(to_json).collect()),
        Field::MapInternal(map) => Value::Object(
            map.entries()
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Field::Str(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        // Decimals, dates and times: the crate's own text form (ISO dates, exact decimals).
        Field::Decimal(_)
        | Field::Date(_)
        | Field::TimeMillis(_)
        | Field::TimeMicros(_)
        | Field::TimestampMillis(_)
        | Field::TimestampMicros(_) => Value::String(field.to_string()),
    }
}

/// An `f32` through its shortest decimal form, so that `0.1f32` reads as `0.1`, not as the
/// `0.10000000149011612` a plain widening to `f64` gives.
fn float32(x: f32) -> Value {
    x.to_string()
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or_else(|| Value::String(x.to_string()), Value::Number)
}
