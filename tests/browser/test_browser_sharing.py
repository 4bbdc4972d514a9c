"""The sharing service in a real browser: sign in, see only one's own, ask, approve, sign out."""

from __future__ import annotations

import re

from tests.browser.conftest import PASSWORD, screenshot


def sign_in(page, server: str, username: str, next_path: str = "/") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server}/login?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.signin-form button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_district_user_signs_in_and_sees_its_district_only(
    server: str, district: str, page
) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "b-district", "/inbound?period=2018")
    assert page.url.endswith("/inbound?period=2018")
    assert "b-district" in page.locator("header .who").inner_text()
    # the district table holds one district only: this user's
    codes = page.eval_on_selector_all(
        "table.stats[data-by=district] tbody tr[data-code]", "rows => rows.map(r => r.dataset.code)"
    )
    assert codes and set(codes) <= {district}
    # pages it may not read are not offered, and refused if typed in
    nav = page.locator("header nav").inner_text()
    assert "管理" not in nav and "数据" not in nav
    resp = page.goto(f"{server}/admin")
    assert resp is not None and resp.status == 403
    screenshot(page, "sharing-district-inbound")
    # sign out: the session ends, the pages ask for sign-in again... except on this
    # workstation home, where the anonymous analyst remains; the cookie must be gone.
    page.goto(f"{server}/inbound")
    page.click("form.logout button")
    page.wait_for_load_state("networkidle")
    assert "/login" in page.url
    assert not [c for c in page.context.cookies() if c["name"] == "ci_session"]


def test_agency_asks_and_admin_approves(server: str, page, browser) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "b-agency", "/catalogue")
    row = page.locator("tr[data-dataset=enterprise]")
    assert row.get_attribute("data-access") == "requestable"
    row.locator("input[name=purpose]").fill("重点招商企业跟踪服务")
    row.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "申请已提交" in page.locator("p.done").inner_text()
    assert page.locator("tr[data-dataset=enterprise]").get_attribute("data-access") == "pending"

    admin_ctx = browser.new_context(locale="zh-CN")
    admin = admin_ctx.new_page()
    sign_in(admin, server, "b-admin", "/admin")
    req = admin.locator("#requests tr[data-request]").filter(has_text="b-agency").first
    req.locator("input[name=reason]").fill("用途明确，同意")
    req.locator("button[value=approve]").click()
    admin.wait_for_load_state("networkidle")
    assert re.search(r"申请 \d+ 已批准", admin.locator("p.done").inner_text())
    screenshot(admin, "sharing-admin")
    admin.goto(f"{server}/usage")
    assert admin.locator("#rates [data-rate=consumer_rate] .value").inner_text()
    admin_ctx.close()

    page.goto(f"{server}/catalogue")
    assert page.locator("tr[data-dataset=enterprise]").get_attribute("data-access") == "granted"
    resp = page.goto(f"{server}/enterprises?q=公司")
    assert resp is not None and resp.status == 200
    assert not page.errors  # type: ignore[attr-defined]
