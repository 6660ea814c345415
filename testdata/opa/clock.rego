# Test-only clock seam, loaded by scripts/test into its OPA server and never
# shipped: it asks the production module (templates/gateway) for a decision
# with OPA's clock replaced by the test harness's own clock, so a test whose
# run used a fake clock judges expiry with that same clock, on any date.
#
#   POST /v1/data/preview_access_testclock/decision
#   {"input": {"now_ns": 1700000000000000000, "request": {"host": …, …}}}
package preview_access_testclock

decision := d if {
	d := data.preview_access.decision with input as input.request
		with time.now_ns as input.now_ns
}
