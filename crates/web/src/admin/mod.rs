//! The staff admin at `/admin`. Every route is declared here with the
//! permission it needs; see [`crate::routes`].

mod attributes;
mod audit;
mod deliveries;
mod delivery_stats;
mod dev_mail;
mod facilities;
mod forms;
mod friend_attributes;
mod holidays;
mod home;
mod line_channels;
mod line_compose;
mod line_friends;
mod line_talk;
mod login;
mod masters;
mod reports;
mod reservations;
mod residents;
mod segments;
mod settings;
mod staff;

pub(crate) use delivery_stats::follow_link;
pub(crate) use facilities::serve_photo;

use askama::Template;
use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use hiroba_domain::permission::Permission;

use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::routes::{Access, AdminRoutes, RouteSpec};
use crate::view::Layout;

fn routes(state: AppState) -> AdminRoutes {
    use Access::{Public, Staff};
    let any = Staff(None);
    let staff_admin = Staff(Some(Permission::StaffAdmin));
    let facilities_p = Staff(Some(Permission::Facilities));
    let logs = Staff(Some(Permission::Logs));
    let system = Staff(Some(Permission::SystemSettings));
    let desk = Staff(Some(Permission::Reservations));
    let residents_p = Staff(Some(Permission::Residents));
    let reports_p = Staff(Some(Permission::Reports));
    let compose = Staff(Some(Permission::MessagingCompose));
    let send = Staff(Some(Permission::MessagingSend));
    let forms_p = Staff(Some(Permission::Forms));
    AdminRoutes::new(state)
        // The counter (窓口): desk calendar, counter bookings, reservations (A22, A23).
        .get("/desk", desk, reservations::desk)
        .get("/reservations", desk, reservations::list)
        .get("/reservations/new", desk, reservations::new_form)
        .post("/reservations/new", desk, reservations::create)
        .get("/reservations/{id}", desk, reservations::detail)
        .post("/reservations/{id}", desk, reservations::update)
        .post("/reservations/{id}/cancel", desk, reservations::cancel)
        .get("/reservations/{id}/change", desk, reservations::change_form)
        .post("/reservations/{id}/change", desk, reservations::change)
        .get("/login", Public, login::form)
        .post("/login", Public, login::submit)
        .post("/logout", any, login::logout)
        .get("/", any, home::dashboard)
        .get("/account", any, home::account_form)
        .post("/account", any, home::account_submit)
        .get("/staff", staff_admin, staff::list)
        .get("/staff/new", staff_admin, staff::new_form)
        .post("/staff/new", staff_admin, staff::create)
        .get("/staff/{id}", staff_admin, staff::edit_form)
        .post("/staff/{id}", staff_admin, staff::update)
        .post("/staff/{id}/password", staff_admin, staff::reset_password)
        .post("/staff/{id}/disable", staff_admin, staff::disable)
        .post("/staff/{id}/enable", staff_admin, staff::enable)
        .post("/staff/{id}/delete", staff_admin, staff::delete)
        .get("/facilities", facilities_p, facilities::list)
        .get("/facilities.csv", facilities_p, facilities::export)
        .get("/calendar-import", facilities_p, facilities::import_form)
        .post("/calendar-import", facilities_p, facilities::import)
        .get("/facilities/new", facilities_p, facilities::new_form)
        .post("/facilities/new", facilities_p, facilities::create)
        .get("/facilities/{id}", facilities_p, facilities::hub)
        .get("/facilities/{id}/edit", facilities_p, facilities::edit_form)
        .post("/facilities/{id}/edit", facilities_p, facilities::update)
        .post("/facilities/{id}/delete", facilities_p, facilities::delete)
        .post("/facilities/{id}/rooms", facilities_p, facilities::add_room)
        .get(
            "/facilities/{id}/rooms/{room_id}",
            facilities_p,
            facilities::room_page,
        )
        .post(
            "/facilities/{id}/rooms/{room_id}",
            facilities_p,
            facilities::update_room,
        )
        .post(
            "/facilities/{id}/rooms/{room_id}/delete",
            facilities_p,
            facilities::delete_room,
        )
        .post(
            "/facilities/{id}/rooms/{room_id}/units",
            facilities_p,
            facilities::add_unit,
        )
        .post(
            "/facilities/{id}/rooms/{room_id}/units/{unit_id}",
            facilities_p,
            facilities::rename_unit,
        )
        .post(
            "/facilities/{id}/rooms/{room_id}/units/{unit_id}/delete",
            facilities_p,
            facilities::delete_unit,
        )
        .post(
            "/facilities/{id}/rooms/{room_id}/combinations",
            facilities_p,
            facilities::save_combinations,
        )
        .get(
            "/facilities/{id}/rooms/{room_id}/slots",
            facilities_p,
            facilities::slots_form,
        )
        .post(
            "/facilities/{id}/rooms/{room_id}/slots",
            facilities_p,
            facilities::slots_save,
        )
        .get(
            "/facilities/{id}/rooms/{room_id}/fees",
            facilities_p,
            facilities::fees_form,
        )
        .post(
            "/facilities/{id}/rooms/{room_id}/fees/{combination_id}",
            facilities_p,
            facilities::fees_save,
        )
        .get(
            "/facilities/{id}/rooms/{room_id}/calendar",
            facilities_p,
            facilities::calendar,
        )
        .get(
            "/facilities/{id}/opening",
            facilities_p,
            facilities::opening_form,
        )
        .post(
            "/facilities/{id}/opening",
            facilities_p,
            facilities::opening_save,
        )
        .get(
            "/facilities/{id}/closed",
            facilities_p,
            facilities::closed_form,
        )
        .post(
            "/facilities/{id}/closed-rules",
            facilities_p,
            facilities::add_closed_rule,
        )
        .post(
            "/facilities/{id}/closed-rules/{row}/delete",
            facilities_p,
            facilities::delete_closed_rule,
        )
        .post(
            "/facilities/{id}/closures",
            facilities_p,
            facilities::add_closure,
        )
        .post(
            "/facilities/{id}/closures/{row}/delete",
            facilities_p,
            facilities::delete_closure,
        )
        .post(
            "/facilities/{id}/blocks",
            facilities_p,
            facilities::add_block,
        )
        .post(
            "/facilities/{id}/blocks/{row}/delete",
            facilities_p,
            facilities::delete_block,
        )
        .get(
            "/facilities/{id}/booking-rules",
            facilities_p,
            facilities::rules_form,
        )
        .post(
            "/facilities/{id}/booking-rules",
            facilities_p,
            facilities::rules_save,
        )
        .get(
            "/facilities/{id}/purposes",
            facilities_p,
            facilities::purposes_form,
        )
        .post(
            "/facilities/{id}/purposes",
            facilities_p,
            facilities::add_purpose,
        )
        .post(
            "/facilities/{id}/purposes/{row}/delete",
            facilities_p,
            facilities::delete_purpose,
        )
        .post(
            "/facilities/{id}/activities",
            facilities_p,
            facilities::add_activity,
        )
        .post(
            "/facilities/{id}/activities/{row}/delete",
            facilities_p,
            facilities::delete_activity,
        )
        .get(
            "/facilities/{id}/equipment",
            facilities_p,
            facilities::equipment_form,
        )
        .post(
            "/facilities/{id}/equipment",
            facilities_p,
            facilities::add_equipment,
        )
        .post(
            "/facilities/{id}/equipment/{row}",
            facilities_p,
            facilities::update_equipment,
        )
        .post(
            "/facilities/{id}/equipment/{row}/delete",
            facilities_p,
            facilities::delete_equipment,
        )
        .get(
            "/facilities/{id}/photos",
            facilities_p,
            facilities::photos_form,
        )
        .post(
            "/facilities/{id}/photos",
            facilities_p,
            facilities::add_photo,
        )
        .post(
            "/facilities/{id}/photos/{row}/delete",
            facilities_p,
            facilities::delete_photo,
        )
        .get(
            "/facilities/{id}/terms",
            facilities_p,
            facilities::terms_form,
        )
        .post(
            "/facilities/{id}/terms",
            facilities_p,
            facilities::add_terms,
        )
        .get("/categories", facilities_p, masters::list)
        .post("/categories", facilities_p, masters::add_category)
        .post("/categories/{id}", facilities_p, masters::update_category)
        .post(
            "/categories/{id}/delete",
            facilities_p,
            masters::delete_category,
        )
        .post("/reductions", facilities_p, masters::add_reduction)
        .post(
            "/reductions/{id}/delete",
            facilities_p,
            masters::delete_reduction,
        )
        .get("/holidays", facilities_p, holidays::list)
        .post("/holidays", facilities_p, holidays::add)
        .post("/holidays/remove", facilities_p, holidays::remove)
        .post("/holidays/import", facilities_p, holidays::import)
        .get("/audit", logs, audit::search)
        .get("/audit.csv", logs, audit::export)
        .get("/dev/mail", system, dev_mail::list)
        // Residents (利用者の管理, A19) and erasure of a registration (A30).
        .get("/residents", residents_p, residents::list)
        .get("/residents/new", residents_p, residents::new_form)
        .post("/residents/new", residents_p, residents::create)
        .get("/residents/{id}", residents_p, residents::detail)
        .post("/residents/{id}", residents_p, residents::update)
        .post("/residents/{id}/verify", residents_p, residents::verify)
        .post("/residents/{id}/unverify", residents_p, residents::unverify)
        .post("/residents/{id}/suspend", residents_p, residents::suspend)
        .post(
            "/residents/{id}/reactivate",
            residents_p,
            residents::reactivate,
        )
        .get("/residents/{id}/erase", residents_p, residents::erase_form)
        .post("/residents/{id}/erase", residents_p, residents::erase)
        .get("/settings", system, settings::form)
        .post("/settings", system, settings::save)
        // 帳票・集計 (A26, A27)
        .get("/reports", reports_p, reports::index)
        .get("/reports/counts", reports_p, reports::counts)
        .get("/reports/daily", reports_p, reports::daily)
        .get("/reports/monthly", reports_p, reports::monthly)
        .get("/reports/resident/{id}", reports_p, reports::resident)
        // LINE: channels, friends, talk log and API calls (issue 5; M12, M22, M23).
        .get("/line", any, home::line_entry)
        .get("/line/channels", system, line_channels::list)
        .get("/line/channels/{id}", system, line_channels::edit_form)
        .post("/line/channels/{id}", system, line_channels::save)
        .post("/line/channels/{id}/check", system, line_channels::check)
        .get("/line/friends", compose, line_friends::list)
        .get("/line/friends/{id}", compose, line_friends::detail)
        .post("/line/friends/{id}/send", send, line_friends::send)
        .get(
            "/line/friends/{id}/attributes",
            compose,
            friend_attributes::edit_form,
        )
        .post(
            "/line/friends/{id}/attributes",
            compose,
            friend_attributes::save,
        )
        .post(
            "/line/friends/{id}/tester",
            compose,
            friend_attributes::set_tester,
        )
        .get("/line/attributes", forms_p, attributes::list)
        .post("/line/attributes", forms_p, attributes::create)
        .get("/line/attributes/{id}", forms_p, attributes::edit_form)
        .post("/line/attributes/{id}", forms_p, attributes::update)
        .post(
            "/line/attributes/{id}/move",
            forms_p,
            attributes::move_attribute,
        )
        // フォーム (issue 6; M05, M06, M08, M26); results also for statistics staff.
        .get("/line/forms", forms_p, forms::list)
        .post("/line/forms", forms_p, forms::create)
        .get("/line/forms/{id}", forms_p, forms::edit_form)
        .post("/line/forms/{id}", forms_p, forms::update)
        .post("/line/forms/{id}/items", forms_p, forms::add_item)
        .get(
            "/line/forms/{id}/items/{key}",
            forms_p,
            forms::edit_item_form,
        )
        .post("/line/forms/{id}/items/{key}", forms_p, forms::update_item)
        .post(
            "/line/forms/{id}/items/{key}/move",
            forms_p,
            forms::move_item,
        )
        .post(
            "/line/forms/{id}/items/{key}/delete",
            forms_p,
            forms::remove_item,
        )
        .post("/line/forms/{id}/open", forms_p, forms::set_open)
        .post(
            "/line/forms/{id}/first-follow",
            forms_p,
            forms::set_first_follow,
        )
        .get("/line/forms/{id}/entry", forms_p, forms::entry_form)
        .post("/line/forms/{id}/entry", forms_p, forms::entry)
        .get("/line/forms/{id}/results", any, forms::results)
        .get("/line/forms/{id}/results.csv", any, forms::results_csv)
        .get("/line/segments", compose, segments::list)
        .get("/line/segments/new", compose, segments::new_form)
        .post("/line/segments/new", compose, segments::create)
        .post("/line/segments/count", compose, segments::count)
        .get("/line/segments/{id}", compose, segments::edit_form)
        .post("/line/segments/{id}", compose, segments::update)
        .post("/line/segments/{id}/delete", compose, segments::delete)
        // メッセージの作成・プレビューとテスト送信 (issue 6; M07, M12).
        .get("/line/compose", compose, line_compose::form)
        .post_upload("/line/compose", compose, line_compose::submit)
        .post("/line/compose/preview", compose, line_compose::preview)
        .post_upload("/line/compose/test-push", send, line_compose::test_push)
        // 配信 (issue 6; M07, M12-M15).
        .get("/line/deliveries", compose, deliveries::list)
        .post(
            "/line/deliveries/approval",
            system,
            deliveries::set_approval,
        )
        .get("/line/deliveries/new", compose, deliveries::new_form)
        .post_upload("/line/deliveries/new", compose, deliveries::create)
        .get(
            "/line/deliveries/import",
            compose,
            delivery_stats::import_form,
        )
        .post_upload("/line/deliveries/import", compose, delivery_stats::import)
        .get("/line/deliveries/{id}", compose, deliveries::detail)
        .get("/line/deliveries/{id}/edit", compose, deliveries::edit_form)
        .post_upload("/line/deliveries/{id}/edit", compose, deliveries::update)
        .post("/line/deliveries/{id}/approve", send, deliveries::approve)
        .post("/line/deliveries/{id}/cancel", send, deliveries::cancel)
        .post("/line/deliveries/{id}/test", send, deliveries::test_send)
        .get(
            "/line/stats",
            Staff(Some(Permission::Statistics)),
            delivery_stats::stats,
        )
        .get(
            "/line/stats.csv",
            Staff(Some(Permission::Statistics)),
            delivery_stats::stats_csv,
        )
        .get("/line/talk", compose, line_talk::search)
        .get("/line/talk.csv", compose, line_talk::export)
        .get("/line/api-log", logs, line_talk::api_log)
}

pub fn router(state: AppState) -> Router<AppState> {
    routes(state).into_router()
}

/// Every admin route with the access it requires, for the permission tests.
pub fn catalog(state: AppState) -> Vec<RouteSpec> {
    routes(state).specs().to_vec()
}

/// The `?done=` code of a page reached by a redirect after a change.
#[derive(serde::Deserialize)]
pub(crate) struct DoneQuery {
    pub done: Option<String>,
}

impl CurrentStaff {
    /// Records the change in the operation log as the transaction's last
    /// write, then commits: the change and its log entry land together.
    pub(crate) async fn commit_logged(
        &self,
        mut tx: hiroba_store::Tx,
        action: &str,
        object: String,
        summary: String,
    ) -> Result<(), AppError> {
        hiroba_store::audit::append(&mut tx, &self.entry(action, object, summary)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The page frame with the town's name and an optional confirmation.
    pub(crate) async fn page(
        &self,
        state: &AppState,
        title: &str,
        notice: Option<String>,
    ) -> Result<Layout, AppError> {
        let mut layout = self.layout(state, title, town_name(state).await?);
        layout.notice = notice;
        Ok(layout)
    }
}

pub(crate) fn render(page: &impl Template) -> Result<Response, AppError> {
    Ok(Html(page.render()?).into_response())
}

pub(crate) async fn town_name(state: &AppState) -> Result<String, AppError> {
    Ok(hiroba_store::settings::load(state.db()).await?.town_name)
}

/// Short confirmations after a redirect (post/redirect/get), chosen by a code
/// so no free text travels in the URL.
pub(crate) fn notice(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "saved" => "保存しました。",
        "created" => "作成しました。",
        "deleted" => "削除しました。",
        "disabled" => "アカウントを無効にしました。ログイン中の画面も終了しました。",
        "enabled" => "アカウントを有効にしました。",
        "password" => "パスワードを変更しました。",
        "logout" => "ログアウトしました。",
        "imported" => "取り込みました。",
        _ => return None,
    };
    Some(text.to_owned())
}
