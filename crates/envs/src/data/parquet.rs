//! Parquet, as Hugging Face `datasets` (`Dataset.to_parquet`, the Hub's parquet exports),
//! pandas and polars write it. Read through the crate's row API: rows become JSON columns, and
//! from there the same [`super::RowParser`] as JSON lines applies.
use std::fs::File;
use std::path::Path;

use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::{Field, Row};
use serde_json::{Map, Number, Value};

use super::{Collector, DataError, RowParser, RowRef};

/// The codecs compiled in (crates/envs/Cargo.toml), for the error a file with another one gets.
const CODECS: &str = "uncompressed, snappy, gzip and zstd";

pub(super) fn read<P: RowParser>(path: &Path, rows: &mut Collector<P>) -> Result<(), DataError> {
    let shown = rows.source.path.to_string();
    let format_error = |message: String| DataError::Format {
        path: shown.clone(),
        message,
    };
    let file = File::open(path).map_err(|e| DataError::Io {
        path: shown.clone(),
        source: e,
    })?;
    let reader = SerializedFileReader::new(file)
        .map_err(|e| format_error(format!("not a readable Parquet file: {e}")))?;
    let schema = reader.metadata().file_metadata().schema();
    let names: Vec<&str> = if schema.is_group() {
        schema.get_fields().iter().map(|f| f.name()).collect()
    } else {
        Vec::new()
    };
    rows.parser.check_columns(&rows.source, &names)?;
    let iter = reader
        .get_row_iter(None)
        .map_err(|e| format_error(explain(e)))?;
    for (index, row) in iter.enumerate() {
        // A row that fails to decode means a damaged file or an unsupported codec, which no
        // skipping can fix: it ends the load whatever the bad-row policy.
        let row = row.map_err(|e| format_error(format!("row {index}: {}", explain(e))))?;
        rows.row(index, RowRef::Row(index), columns(&row), None)?;
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
