//! `POST /v1/imports`: a CSV file uploaded as the body (`text/csv`) or as a part of a
//! `multipart/form-data` form, with its mapping. The upload is spooled to a temporary
//! file (never held in memory), its header is checked against the mapping, and the
//! import then runs in the background: the answer is the job, and
//! `GET /v1/imports/{id}` tells how far it got.

use crate::AppState;
use crate::api::{caller_actor, parse_id, query_error};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use leadgate_app::AppError;
use leadgate_app::import::{ImportOptions, ImportSource, choose_mapping};
use leadgate_core::ErrorCode;
use leadgate_core::Permission;
use leadgate_core::model::ImportJob;
use serde::Deserialize;
use std::io::{Seek, Write};
use std::time::Duration;

/// The largest file an upload may carry (a million contacts take about 200 MB).
pub const IMPORT_BODY_LIMIT: usize = 1024 * 1024 * 1024;
/// The largest mapping (or other part beside the file): generous for any real one.
pub const MAPPING_LIMIT: usize = 256 * 1024;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    preset: Option<String>,
    mapping: Option<String>,
    dry_run: Option<bool>,
    file_name: Option<String>,
    /// The file's cells are as stored (a raw export), not spreadsheet-safe.
    raw: Option<bool>,
}

fn refused(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError(AppError::new(code, message))
}

fn too_large() -> ApiError {
    ApiError(AppError::new(
        ErrorCode::BodyTooLarge,
        format!(
            "the file is larger than an upload may be ({} MiB); import it with `leadgate import`",
            IMPORT_BODY_LIMIT >> 20
        ),
    ))
}

fn spool_failed(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "cannot spool an upload");
    ApiError(AppError::new(ErrorCode::Unavailable, "the upload could not be stored; try again"))
}

/// A temporary file that the upload is written to; removed when dropped.
struct Spool {
    file: std::fs::File,
    len: usize,
    started: std::time::Instant,
    /// After this long, the upload must have come at [`UPLOAD_MIN_PACE`] at least.
    grace: Duration,
}

/// The slowest an upload may come, on average, once its first `body_timeout_secs` are
/// past: a client that trickles a byte now and then holds a place among the server's
/// imports, which it takes before the upload is read.
pub const UPLOAD_MIN_PACE: usize = 16 * 1024;

impl Spool {
    fn new(grace: Duration) -> Result<Self, ApiError> {
        let file = tempfile::tempfile().map_err(spool_failed)?;
        Ok(Self { file, len: 0, started: std::time::Instant::now(), grace })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        self.len += bytes.len();
        if self.len > IMPORT_BODY_LIMIT {
            return Err(too_large());
        }
        let elapsed = self.started.elapsed();
        if elapsed > self.grace && (self.len as f64) < elapsed.as_secs_f64() * UPLOAD_MIN_PACE as f64 {
            return Err(ApiError(AppError::new(
                ErrorCode::BodyTimeout,
                format!("the upload arrives slower than {} KiB/s", UPLOAD_MIN_PACE >> 10),
            )));
        }
        self.file.write_all(bytes).map_err(spool_failed)
    }

    fn rewound(mut self) -> Result<std::fs::File, ApiError> {
        self.file.rewind().map_err(spool_failed)?;
        Ok(self.file)
    }
}

fn unreadable(what: &str, why: String) -> ApiError {
    refused(ErrorCode::InvalidBody, format!("the {what} could not be read: {why}"))
}

fn invalid_part(code: ErrorCode, message: String, part: &str) -> ApiError {
    ApiError(AppError::new(code, message).field(part.to_owned()))
}

/// Reads a multipart import form: the `file` part into `spool`, the other parts into
/// `q` (a part overrides the query parameter of the same name).
/// The next piece of an upload, which must come within `idle` of the one before.
async fn next_piece<T, E>(
    idle: Duration,
    piece: impl Future<Output = Result<Option<T>, E>>,
    failed: impl FnOnce(E) -> ApiError,
) -> Result<Option<T>, ApiError> {
    match tokio::time::timeout(idle, piece).await {
        Ok(read) => read.map_err(failed),
        Err(_) => Err(crate::extract::body_timeout(idle)),
    }
}

async fn read_form(
    mut form: Multipart,
    q: &mut ImportQuery,
    spool: &mut Spool,
    idle: Duration,
) -> Result<(), ApiError> {
    let mut has_file = false;
    while let Some(mut field) = next_piece(idle, form.next_field(), |e| unreadable("form", e.body_text())).await? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            if has_file {
                return Err(refused(ErrorCode::InvalidBody, "the form has more than one `file` part"));
            }
            has_file = true;
            q.file_name = q.file_name.take().or_else(|| field.file_name().map(str::to_owned));
            while let Some(chunk) = next_piece(idle, field.chunk(), |e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    unreadable("file part", e.body_text())
                }
            })
            .await?
            {
                spool.write(&chunk)?;
            }
            continue;
        }
        if !matches!(name.as_str(), "mapping" | "preset" | "dry_run") {
            let message = format!("the form has a part {name:?}; parts are file, mapping, preset and dry_run");
            return Err(invalid_part(ErrorCode::UnknownField, message, &name));
        }
        // Read a piece at a time and refused as soon as it is too large, never held
        // whole past its limit.
        let mut bytes = Vec::new();
        while let Some(chunk) =
            next_piece(idle, field.chunk(), |e| unreadable(&format!("{name} part"), e.body_text())).await?
        {
            if bytes.len() + chunk.len() > MAPPING_LIMIT {
                return Err(ApiError(
                    AppError::new(ErrorCode::BodyTooLarge, "the part is larger than 256 KiB").field(name),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| invalid_part(ErrorCode::NotUtf8, "the part is not UTF-8 text".into(), &name))?;
        match name.as_str() {
            "mapping" => q.mapping = Some(text),
            "preset" => q.preset = Some(text),
            _ => {
                q.dry_run = Some(match text.trim() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => {
                        return Err(invalid_part(
                            ErrorCode::InvalidValue,
                            "dry_run must be true or false".into(),
                            &name,
                        ));
                    }
                })
            }
        }
    }
    if has_file {
        Ok(())
    } else {
        Err(invalid_part(ErrorCode::MissingFile, "the form has no `file` part with the CSV".into(), "file"))
    }
}

fn media_type(headers: &HeaderMap) -> String {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

#[utoipa::path(post, path = "/v1/imports", operation_id = "create_import", tag = "import", params(ImportQuery), request_body(description = "The CSV file as the body, or a multipart form with `file` and optional `mapping`, `preset`, `dry_run` parts.", content((String = "text/csv"), (String = "application/csv"), (String = "text/plain"), (Object = "multipart/form-data"))), responses((status = 202, description = "The import job, running; `Location` names it.", body = ImportJob), (status = 422, description = "`missing_mapping`, `invalid_mapping`, `unknown_preset`, `not_csv`, `empty_file`, `mapping_mismatch`, `missing_file`, `not_utf8`, `invalid_query`, `unknown_field`, `invalid_value`.", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ImportQuery>, QueryRejection>,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ImportData)?;
    let Query(mut q) = q.map_err(query_error)?;
    // A place among the server's imports is taken before the upload is read: a busy
    // server refuses at once rather than after a gigabyte.
    let ration = s.app.ration(leadgate_app::HeavyWork::Import)?;
    let media = media_type(request.headers());
    let idle = s.opts.body_timeout;
    let mut spool = Spool::new(idle)?;
    match media.as_str() {
        "text/csv" | "application/csv" | "text/plain" => {
            let mut body: Body = request.into_body();
            while let Some(frame) =
                next_piece(idle, async { body.frame().await.transpose() }, |e| unreadable("upload", e.to_string()))
                    .await?
            {
                if let Some(data) = frame.data_ref() {
                    spool.write(data)?;
                }
            }
        }
        "multipart/form-data" => {
            let form = Multipart::from_request(request, &s).await.map_err(|e| unreadable("form", e.body_text()))?;
            read_form(form, &mut q, &mut spool, idle).await?;
        }
        other => {
            return Err(ApiError(AppError::new(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "an import takes the CSV as the body (Content-Type text/csv) or in a multipart/form-data form, not {:?}",
                    if other.is_empty() { "(none)" } else { other }
                ),
            )));
        }
    }
    let (mut mapping, described) = choose_mapping(q.mapping.as_deref(), q.preset.as_deref())?;
    if q.raw.unwrap_or(false) {
        mapping.spreadsheet_safe = false;
    }
    let source =
        ImportSource { file_name: q.file_name.map(|n| leadgate_core::ident::truncate(&n, 200)), mapping: described };
    let opts = ImportOptions { dry_run: q.dry_run.unwrap_or(false) };
    let job = s.app.start_import(spool.rewound()?, &mapping, source, opts, caller_actor(&caller), ration).await?;
    let location = format!("/v1/imports/{}", job.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(job)))
}

#[utoipa::path(get, path = "/v1/imports/{id}", operation_id = "get_import", tag = "import", params(("id" = Uuid, Path, description = "The import's id.")), responses((status = 200, description = "The import job and how far it is.", body = ImportJob), (status = 404, description = "`unknown_import`.", body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ImportData)?;
    let id = parse_id(id, ErrorCode::UnknownImport)?;
    Ok(Json(s.app.import_job(id).await?))
}

/// Import jobs, newest first.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ImportList {
    imports: Vec<ImportJob>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/imports", operation_id = "list_imports", tag = "import", params(ListQuery), responses((status = 200, description = "`{\"imports\": [...]}`, newest first.", body = ImportList), (status = 422, description = "`invalid_query`.", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    s.app.authorize(&caller.0, Permission::ImportData)?;
    let Query(q) = q.map_err(query_error)?;
    Ok(Json(ImportList { imports: s.app.imports(q.limit.unwrap_or(50)).await? }))
}
