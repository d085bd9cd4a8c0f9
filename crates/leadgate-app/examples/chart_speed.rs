//! How long drawing each report's chart takes, apart from computing the report: the
//! reports of 100,000 synthetic contacts over two years (eight channels, every stage;
//! inflow without responses, its totals' line alone), each drawn 50 times. Prints figures; asserts nothing.
//!
//!   cargo run --release -p leadgate-app --example chart_speed

use leadgate_app::reports::charts;
use leadgate_core::Timestamp;
use leadgate_core::reports::cohorts::Cohorts;
use leadgate_core::reports::cost::Cost;
use leadgate_core::reports::forecast::Forecast;
use leadgate_core::reports::funnel::{FUNNEL, Path};
use leadgate_core::reports::inflow::{Inflow, monday, week_of};
use leadgate_core::reports::mix::{FunnelMix, month_ends};
use leadgate_core::reports::rejected::{RejectedThenWon, Rejection, WonBack};
use leadgate_core::reports::waterfall::Waterfall;
use leadgate_core::reports::{Grouping, Month, Period, Selection};
use leadgate_core::time::MICROS_PER_DAY;
use leadgate_core::{Direction, Stage};
use std::time::Instant;

const CHANNELS: [&str; 8] =
    ["organic_search", "paid_search", "referral", "social", "display", "event", "purchased_list", "pay_per_lead"];

fn main() {
    let now = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
    let start = now.0 - 730 * MICROS_PER_DAY;
    let paths: Vec<Path> = (0..100_000u64)
        .map(|i| {
            let entered = Timestamp(start + (i as i64 * 7_919 % 730) * MICROS_PER_DAY);
            let mut groups: [Option<std::sync::Arc<str>>; Grouping::ALL.len()] = Default::default();
            groups[Grouping::Channel.index()] = Some(CHANNELS[(i % 8) as usize].into());
            groups[Grouping::Direction.index()] = Some(if i % 8 >= 6 { "outbound" } else { "inbound" }.into());
            let depth = (i.wrapping_mul(2_654_435_761) % 97) as usize % FUNNEL.len() + 1;
            let mut reached = [None; FUNNEL.len()];
            for (k, slot) in reached.iter_mut().take(depth).enumerate() {
                *slot = Some(entered.plus_micros(k as i64 * 9 * MICROS_PER_DAY));
            }
            let value_won = (depth == FUNNEL.len()).then_some(1_200_000);
            Path {
                contact_id: uuid::Uuid::from_u128(i as u128),
                entered_at: entered,
                groups,
                reached,
                disqualified: false,
                value_won,
            }
        })
        .collect();
    let selection = Selection { period: Period::default(), direction: None };
    let waterfall = Waterfall::of(&paths, selection, &[Grouping::Channel]).unwrap();
    let cost = Cost::of(&paths, &[], selection, &[Grouping::Channel], "USD").unwrap();
    let mut cohorts = Cohorts::tally(selection, now);
    paths.iter().for_each(|p| cohorts.add(p));
    let cohorts = cohorts.finish();
    let mut mix = FunnelMix::tally(month_ends(Month(Month::of(now).0 - 23), Month::of(now), now), None);
    let mut forecast = Forecast::tally(Month::of(now), 3);
    let mut rejected = RejectedThenWon::tally(Period::default(), None);
    for p in &paths {
        let steps: Vec<_> = FUNNEL
            .iter()
            .zip(p.reached)
            .filter_map(|(s, at)| at.map(|at| leadgate_core::lifecycle::StageStep { to: *s, at, value: None }))
            .collect();
        mix.add(p.entered_at, Direction::Inbound, &steps);
        forecast.add(p.entered_at, Direction::Inbound, &steps);
        let nurtured = [leadgate_core::lifecycle::StageStep { to: Stage::Nurture, at: p.entered_at, value: None }];
        if let Some(r) = Rejection::of(p.contact_id, Direction::Inbound, Stage::Nurture, &nurtured) {
            rejected.add(&r);
        }
    }
    let mix = mix.finish();
    let forecast = forecast.finish(now, "USD".into());
    let rejected = rejected.finish(|_| -> WonBack { unreachable!("none won back") });
    let weeks = (week_of(Timestamp(now.0 - 26 * 7 * MICROS_PER_DAY)), week_of(now));
    // Inflow counts responses, which these contacts have none of: its chart is its
    // totals' line over 26 weeks.
    let inflow = Inflow::tally(selection, &[Grouping::Channel], monday(weeks.0), monday(weeks.1)).finish().unwrap();

    let time = |name: &str, draw: &dyn Fn() -> String| {
        let mut ms: Vec<f64> = (0..50)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(draw());
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        println!(
            "   {name:28} min {:6.2} ms   median {:6.2} ms   max {:6.2} ms   ({} bytes)",
            ms[0],
            ms[25],
            ms[49],
            draw().len()
        );
    };
    time("waterfall, 8 channels", &|| charts::waterfall(&waterfall).unwrap());
    time("cost, 8 channels", &|| charts::cost(&cost).unwrap());
    time("cohorts, 24 months", &|| charts::cohorts(&cohorts).unwrap());
    time("inflow, 26 weeks", &|| charts::inflow(&inflow).unwrap());
    time("funnel mix, 24 months", &|| charts::funnel_mix(&mix).unwrap());
    time("rejected, then won, 24 months", &|| charts::rejected_then_won(&rejected).unwrap());
    time("forecast, 6 + 3 months", &|| charts::forecast(&forecast).unwrap());
}
