//! The OpenAPI description, generated from the handlers' `#[utoipa::path]` attributes
//! as the router is built (`utoipa_axum::routes!`), so that no route can be served
//! without being described. What every operation shares — the API key, the error
//! answers — is added here once rather than repeated on each handler.

use crate::error::{ErrorBody, ErrorDetail, RejectedItem, RejectedProblem};
use leadgate_core::ErrorCode;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};
use utoipa::{Modify, OpenApi as _};

/// The name under which the API key is described.
const API_KEY: &str = "api_key";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "leadgate",
        description = "B2B lead management: capture, import, identity, qualification and the change feed. \
                       docs/api.md (served at /v1/api.md) is the guide; this is the reference.",
        license(name = "AGPL-3.0-or-later")
    ),
    components(schemas(ErrorBody, ErrorDetail, RejectedItem, RejectedProblem, ErrorCode)),
    modifiers(&Shared)
)]
struct Base;

/// The description's frame, before the routes add their paths.
pub fn base() -> OpenApi {
    Base::openapi()
}

/// Describes the API key.
struct Shared;

impl Modify for Shared {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(API_KEY, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// Completes each operation of `api` with what all share, once the router has collected
/// every path: the API key (except where an operation says it takes none, with
/// `security(())`) and the error answers any request can get.
pub fn complete(api: &mut OpenApi) {
    for item in api.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            complete_operation(op);
        }
    }
}

fn complete_operation(op: &mut Operation) {
    // `security(())` on a handler: it may be called without a key (an inquiry may
    // still carry one).
    let open = op.security.as_ref().is_some_and(|s| s.iter().any(|r| *r == SecurityRequirement::default()));
    if !open {
        op.security = Some(vec![SecurityRequirement::new(API_KEY, Vec::<String>::new())]);
        add_error(op, 401, "`unauthenticated`: no API key, or not a valid one.");
        add_error(op, 403, "`forbidden`: the key's role may not do this.");
    }
    if op.request_body.is_some() {
        add_error(op, 400, "`invalid_json`, `invalid_encoding`, `invalid_body`: the body could not be read.");
        add_error(op, 413, "`body_too_large`: the body is larger than this endpoint takes.");
        add_error(op, 415, "`unsupported_media_type`: a missing or unaccepted `Content-Type`.");
        add_error(op, 408, "`body_timeout`: the body did not arrive in time.");
    }
    add_error(op, 500, "`internal`: a fault on the server's side, logged under the `id` the answer gives.");
    add_error(op, 503, "`unavailable` or `busy`: retry after `Retry-After` seconds.");
}

/// Adds an error answer for `status`, unless the operation describes its own.
fn add_error(op: &mut Operation, status: u16, description: &str) {
    let key = status.to_string();
    if op.responses.responses.contains_key(&key) {
        return;
    }
    let body = ContentBuilder::new().schema(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody")))).build();
    let response = ResponseBuilder::new().description(description).content("application/json", body).build();
    op.responses.responses.insert(key, RefOr::T(response));
}
