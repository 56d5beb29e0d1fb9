//! The metrics' names and shapes, as the README's table lists them.

use super::*;

#[test]
fn every_family_is_named_as_documented() {
    let m = Metrics::new();
    let _live = m.session_live(Some("kvm1"));
    m.session_ended(&SessionEnd::policy(crate::live::Policy::Killed));
    m.session_set_up(Duration::from_millis(12));
    m.token_checked("upgrade", "ok");
    m.api_request("/v2.1/servers", "GET", 200, Duration::from_millis(3));
    porthole_tokens::auth::StoreObserver::observe(&m, "lookup", Duration::from_millis(1), false);
    m.relayed_up_to(10, 20);
    m.relayed_up_to(15, 20);
    let text = m.encode();
    for line in [
        "porthole_sessions_live{node=\"kvm1\"} 1",
        "porthole_sessions_ended_total{reason=\"killed\"} 1",
        "porthole_session_setup_seconds_count 1",
        "porthole_token_checks_total{stage=\"upgrade\",outcome=\"ok\"} 1",
        "porthole_api_requests_total{route=\"/v2.1/servers\",method=\"GET\",status=\"200\"} 1",
        "porthole_api_request_duration_seconds_count{route=\"/v2.1/servers\",method=\"GET\"} 1",
        "porthole_store_operation_duration_seconds_count{op=\"lookup\"} 1",
        "porthole_store_errors_total{op=\"lookup\"} 1",
        "porthole_relayed_bytes_total{direction=\"to_browser\"} 15",
        "porthole_relayed_bytes_total{direction=\"to_server\"} 20",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
    }
    drop(_live);
    assert!(m.encode().lines().any(|l| l == "porthole_sessions_live{node=\"kvm1\"} 0"));
}
