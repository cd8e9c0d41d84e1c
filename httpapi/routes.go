package httpapi

import "net/http"

// Shorthands for the route table's role lists.
var (
	cbOnly    = []string{RoleCentralBank}
	opOnly    = []string{RoleOperatorAdmin}
	cbOrOp    = []string{RoleCentralBank, RoleOperatorAdmin}
	walletAll = []string{RoleOperatorAdmin, RoleHolder, RoleMerchant}
	opOrHold  = []string{RoleOperatorAdmin, RoleHolder}
	everyone  = Roles
)

// routeTable lists every endpoint under /v1: the mux, the OpenAPI
// document and the authorisation matrix test all read it, so the three
// cannot disagree. The roles say who may call an endpoint at all; the
// handler then keeps each caller to its own operator or wallet.
func (s *Server) routeTable() []route {
	created := http.StatusCreated
	rs := []route{
		{method: "GET", pattern: "/v1/me", summary: "Who the key speaks for", roles: everyone, response: "Key", handle: s.me},
		{method: "GET", pattern: "/v1/keys", summary: "List the keys in the caller's part (never their secrets)", roles: cbOrOp, response: "KeyList", query: []string{"cursor", "limit"}, handle: s.listKeys},
		{method: "POST", pattern: "/v1/keys/{key}/revoke", summary: "Revoke a key: the central bank any, an operator admin its operator's, anyone its own", roles: everyone, request: "RevokeKey", bodyOptional: true, response: "Key", handle: s.revokeKey},
		{method: "POST", pattern: "/v1/keys", summary: "Create an API key or holder token (the secret is shown once)", roles: cbOrOp, request: "CreateKey", response: "Key", status: created, handle: s.createKey},

		{method: "GET", pattern: "/v1/operators", summary: "List operators (an operator admin sees its own)", roles: cbOrOp, response: "InstitutionPage", query: []string{"cursor", "limit"}, handle: s.listOperators},
		{method: "POST", pattern: "/v1/operators", summary: "Authorise an operator", roles: cbOnly, request: "CreateOperator", response: "Institution", status: created, handle: s.createOperator},
		{method: "GET", pattern: "/v1/operators/{operator}", summary: "Read an operator", roles: cbOrOp, response: "Institution", handle: s.getOperator},
		{method: "POST", pattern: "/v1/operators/{operator}/reserves/deposit", summary: "Credit an operator's reserve account from the interbank system", roles: cbOnly, money: true, request: "Money", response: "Receipt", handle: s.depositReserves},
		{method: "POST", pattern: "/v1/operators/{operator}/reserves/withdraw", summary: "Move unissued reserves back to the interbank system", roles: cbOnly, money: true, request: "Money", response: "Receipt", handle: s.withdrawReserves},
		{method: "POST", pattern: "/v1/operators/{operator}/issue", summary: "Issue digital currency to an operator's vault against its reserves", roles: cbOnly, money: true, request: "Money", response: "Receipt", handle: s.issue},
		{method: "POST", pattern: "/v1/operators/{operator}/redeem", summary: "Redeem digital currency from an operator's vault for reserves", roles: cbOnly, money: true, request: "Money", response: "Receipt", handle: s.redeem},
		{method: "GET", pattern: "/v1/operators/{operator}/caps", summary: "An operator's cap schedule", roles: cbOrOp, response: "CapSchedule", handle: s.getCaps},
		{method: "POST", pattern: "/v1/operators/{operator}/caps", summary: "Add a version to an operator's cap schedule", roles: opOnly, request: "SetCaps", response: "CapVersion", status: created, handle: s.setCaps},
		{method: "POST", pattern: "/v1/operators/{operator}/wallets", summary: "Open a wallet at an operator", roles: opOnly, request: "OpenWallet", response: "Wallet", status: created, handle: s.openWallet},
		{method: "GET", pattern: "/v1/operators/{operator}/wallets", summary: "List an operator's wallets", roles: opOnly, response: "WalletPage", query: []string{"cursor", "limit"}, handle: s.listWallets},
		{method: "GET", pattern: "/v1/operators/{operator}/reconciliation", summary: "An operator's daily reconciliation report", roles: cbOrOp, response: "Reconciliation", query: []string{"day"}, handle: s.reconcile},

		{method: "GET", pattern: "/v1/wallets/{wallet}", summary: "Read a wallet and its balance", roles: walletAll, response: "Wallet", handle: s.getWallet},
		{method: "GET", pattern: "/v1/wallets/{wallet}/transfers", summary: "A wallet's history, newest first (a merchant sees incoming payments)", roles: walletAll, response: "TransferPage", query: []string{"cursor", "limit"}, handle: s.walletTransfers},
		{method: "POST", pattern: "/v1/wallets/{wallet}/top-up", summary: "Load a wallet from the holder's bank deposit", roles: opOrHold, money: true, request: "Money", response: "Receipt", handle: s.topUp},
		{method: "POST", pattern: "/v1/wallets/{wallet}/withdraw", summary: "Move money from a wallet to the holder's bank deposit", roles: opOrHold, money: true, request: "Money", response: "Receipt", handle: s.withdraw},
		{method: "POST", pattern: "/v1/wallets/{wallet}/state", summary: "Set a wallet's state (active, receive_only, suspended, closed) with a reason", roles: opOnly, request: "SetState", response: "Wallet", handle: s.setState},
		{method: "POST", pattern: "/v1/wallets/{wallet}/freeze", summary: "Freeze a wallet until a moment, or lift a freeze", roles: opOnly, request: "Freeze", response: "Wallet", handle: s.freeze},
		{method: "POST", pattern: "/v1/wallets/{wallet}/category", summary: "Upgrade or downgrade a wallet's KYC category", roles: opOnly, request: "ChangeCategory", response: "Wallet", handle: s.changeCategory},
		{method: "GET", pattern: "/v1/resolve", summary: "Find the wallet a phone number or wallet id names", roles: walletAll, response: "ResolvedWallet", query: []string{"alias"}, handle: s.resolve},

		{method: "POST", pattern: "/v1/payments", summary: "Pay from a wallet to a wallet id or phone number", roles: []string{RoleHolder}, money: true, request: "Pay", response: "Payment", status: created, handle: s.pay},
		{method: "POST", pattern: "/v1/payments/batch", summary: "Many payments in one request, each with its own result", roles: opOrHold, money: true, request: "PayBatch", response: "PayBatchResults", handle: s.payBatch},

		{method: "GET", pattern: "/v1/settlement-windows", summary: "List settlement windows", roles: cbOrOp, response: "WindowPage", query: []string{"cursor", "limit"}, handle: s.listWindows},
		{method: "POST", pattern: "/v1/settlement-windows/close", summary: "Close the current settlement window and settle it", roles: cbOnly, money: true, request: "CloseWindow", bodyOptional: true, response: "Settlement", handle: s.closeWindow},
		{method: "GET", pattern: "/v1/supply", summary: "The supply check: issued − redeemed against every operator's liabilities", roles: cbOnly, response: "Supply", handle: s.supply},

		{method: "GET", pattern: "/v1/sandbox/clock", summary: "The node's clock, on a node in sandbox mode (serve --sandbox)", roles: cbOnly, response: "SandboxClock", handle: s.getSandboxClock},
		{method: "POST", pattern: "/v1/sandbox/clock/advance", summary: "Move a sandbox node's clock forward, by a duration or to a moment; never back", roles: cbOnly, request: "AdvanceClock", response: "SandboxClock", handle: s.advanceSandboxClock},
	}
	rs = append(rs, s.merchantRoutes()...)
	rs = append(rs, s.scenarioRoutes()...)
	rs = append(rs, s.contractRoutes()...)
	rs = append(rs, s.offlineRoutes()...)
	return rs
}

// RouteInfo describes one endpoint of the API.
type RouteInfo struct {
	Method, Pattern string
	// Roles may call it (scope permitting); empty for a public endpoint.
	Roles []string
	// Money says it moves money and needs an Idempotency-Key.
	Money bool
}

// Routes lists every endpoint the server serves.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, 0, len(s.routes))
	for _, rt := range s.routes {
		out = append(out, RouteInfo{Method: rt.method, Pattern: rt.pattern, Roles: rt.roles, Money: rt.money})
	}
	return out
}
