// Package httpapi is tongbao's HTTP API over the two-tier domain: thin
// handlers that parse, authorise, call twotier and render JSON. Errors are
// RFC 9457 problem details with a stable type (problems.go is the one place
// that maps errors to them); every request that moves money needs an
// Idempotency-Key; lists page with opaque cursors; callers authenticate
// with API keys and holder tokens whose roles each reach only their part.
package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/merchant"
	"github.com/tongbao/tongbao/offline"
	"github.com/tongbao/tongbao/scenario"
	"github.com/tongbao/tongbao/twotier"
)

// Limits of a request.
const (
	// BodyMax is the largest request body, in bytes: room for a full
	// batch of payments.
	BodyMax = 4 << 20
	// PageMax is the most items one page of a list holds; PageDefault is
	// what a list returns without ?limit.
	PageMax     = 1000
	PageDefault = 100
	// RequestIDMax is the longest X-Request-Id taken from a client.
	RequestIDMax = 64
)

// Services are the domain services a server serves at one moment. Payments
// and Ledger are always set; Merchant and Scenario may be nil, and their
// routes then answer that they are not available.
type Services struct {
	Payments *twotier.Service
	Ledger   *ledger.Ledger
	Merchant *merchant.Service
	Scenario *scenario.Service
	// Contracts serves the contract routes; nil answers that they are
	// not available.
	Contracts *contract.Service
	// Offline serves the offline payment routes; nil answers that they
	// are not available.
	Offline *offline.Service
}

// Config configures a Server. Keys is required, and either Service and
// Ledger (and Merchant, for the merchant routes) or Current.
type Config struct {
	Service  *twotier.Service
	Ledger   *ledger.Ledger
	Merchant *merchant.Service
	// Scenario serves the scenario sub-wallet routes.
	Scenario *scenario.Service
	// Contracts serves the contract routes.
	Contracts *contract.Service
	// Offline serves the offline payment routes.
	Offline *offline.Service
	// Current, when set instead of the services, returns what the server
	// serves at the moment of each request: a process that shares its
	// database with others serves only while it holds the ledger's
	// writer, and in between Current returns an error, such as
	// ledger.ErrNotWriter, that every /v1 request is answered with.
	Current func() (Services, error)
	Keys    *Keys
	// Logger gets one line per request, each with its request id;
	// slog.Default() when nil.
	Logger *slog.Logger
	// Registry gets the server's metrics; a new one when nil.
	Registry *prometheus.Registry
	// Clock tells the time the answers kept under Idempotency-Keys age
	// by; the system clock when nil.
	Clock tongbao.Clock
	// IdempotencyBytesMax bounds the memory the answers kept under
	// Idempotency-Keys take; DefaultIdempotencyBytesMax when zero.
	IdempotencyBytesMax int64
	// IdempotencyRetention is how long an answer is kept under its
	// Idempotency-Key; DefaultIdempotencyRetention when zero.
	IdempotencyRetention time.Duration
	// Sandbox is the node's clock in sandbox mode, which the central bank
	// may read and move forward; nil on a node not in sandbox mode, whose
	// sandbox routes answer tongbao.ErrSandboxDisabled.
	Sandbox Sandbox
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	current func() (Services, error)
	keys    *Keys
	log     *slog.Logger
	mux     *http.ServeMux
	idem    *idempotency
	metrics *metrics
	routes  []route
	sandbox Sandbox
	closing atomic.Bool
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Current == nil && (cfg.Service == nil || cfg.Ledger == nil) || cfg.Keys == nil {
		return nil, errors.New("httpapi: service and ledger (or current) and keys are required")
	}
	if cfg.Current == nil {
		cur := Services{Payments: cfg.Service, Ledger: cfg.Ledger, Merchant: cfg.Merchant, Scenario: cfg.Scenario, Contracts: cfg.Contracts, Offline: cfg.Offline}
		cfg.Current = func() (Services, error) { return cur, nil }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Clock == nil {
		cfg.Clock = tongbao.SystemClock{}
	}
	if cfg.IdempotencyBytesMax == 0 {
		cfg.IdempotencyBytesMax = DefaultIdempotencyBytesMax
	}
	if cfg.IdempotencyRetention == 0 {
		cfg.IdempotencyRetention = DefaultIdempotencyRetention
	}
	if cfg.IdempotencyBytesMax < 0 || cfg.IdempotencyRetention < 0 {
		return nil, errors.New("httpapi: the idempotency cache's bound and retention must not be negative")
	}
	s := &Server{current: cfg.Current, keys: cfg.Keys, log: cfg.Logger, mux: http.NewServeMux(), idem: newIdempotency(cfg.Clock, cfg.IdempotencyBytesMax, cfg.IdempotencyRetention), sandbox: cfg.Sandbox}
	m, err := newMetrics(cfg.Registry, s.stats, s.idem.size)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.routes = s.routeTable()
	for i := range s.routes {
		rt := &s.routes[i]
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	ops := []route{
		{method: "GET", pattern: "/healthz", summary: "Liveness: the process answers", response: "Health", public: true, raw: s.healthz},
		{method: "GET", pattern: "/readyz", summary: "Readiness: this process holds the ledger's writer, and the central bank exists", response: "Health", public: true, raw: s.readyz},
		{method: "GET", pattern: "/metrics", summary: "Prometheus metrics", public: true, raw: promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}).ServeHTTP},
		{method: "GET", pattern: "/openapi.json", summary: "This API's OpenAPI 3.1 document", public: true, raw: s.openapi},
	}
	for i := range ops {
		rt := &ops[i]
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	s.routes = append(s.routes, ops...)
	s.mux.Handle("/", s.wrap(&route{pattern: "/", public: true, raw: s.notFound}))
	return s, nil
}

// SetClosing makes /readyz answer 503, so a load balancer drains the
// server before it shuts down.
func (s *Server) SetClosing() { s.closing.Store(true) }

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// route is one endpoint: what it is (for the OpenAPI document and the
// authorisation matrix) and its handler.
type route struct {
	method, pattern string
	summary         string
	roles           []string // who may call it at all; scope is checked by the handler
	money           bool     // moves money: needs an Idempotency-Key
	request         string   // schema name of the body, "" for none
	bodyOptional    bool     // the body may be left out
	response        string   // schema name of the answer
	status          int      // of a success; 200 when zero
	query           []string // query parameters
	public          bool     // no key needed
	// bodyTypes are the content types a body that is not JSON may be
	// sent as (a signed event); JSON only when empty.
	bodyTypes []string
	// ctype is the content type of an answer that is not JSON (a
	// rawBody); "" for JSON.
	ctype  string
	handle func(*call) (any, error)
	raw    http.HandlerFunc
	// alt is a content type the handler answers instead of JSON when
	// asked by ?format= (a rawBody); "" for none.
	alt string
}

// rawBody is an answer that is not JSON: an image or a CSV file. Only GET
// routes answer one (the idempotency cache keeps JSON only).
type rawBody struct {
	ctype string
	body  []byte
}

// call is one request as a handler sees it.
type call struct {
	r         *http.Request // as it came: ctx, not r.Context(), carries the logger
	ctx       context.Context
	svc       *twotier.Service  // what this request is served by
	merchant  *merchant.Service // nil when merchant collection is not served
	scenario  *scenario.Service // nil when scenario sub-wallets are not served
	contracts *contract.Service // nil when contracts are not served
	offline   *offline.Service  // nil when offline payments are not served
	p         Principal
	body      []byte
	key       string // Idempotency-Key
	subject   string // p.subject()
	ids       derivation
	status    int
	requestID string
	// decoded is the body already decoded into the route's request type
	// (to compare a retry by content), nil when it was not.
	decoded any
}

// id returns the i-th transfer id of this request, derived from the caller
// and the Idempotency-Key.
func (c *call) id(i int) tongbao.ID {
	if c.ids == nil {
		c.ids = idPrefix(c.subject, c.key)
	}
	return c.ids.id(c.key, i)
}

// chosenID returns the id of what a request creates: the one the body
// names, else one derived from the Idempotency-Key (so a retry creates
// the same thing), else zero (the domain picks a new one).
func (c *call) chosenID(named *tongbao.ID) tongbao.ID {
	switch {
	case named != nil:
		return *named
	case c.key != "":
		return c.id(0)
	}
	return tongbao.ID{}
}

// decode reads the body into v strictly.
func (c *call) decode(v any) error {
	if len(c.body) == 0 {
		return &malformed{tongbao.Errorf(tongbao.EINVALID, "the body is empty")}
	}
	if c.decoded != nil {
		if dv, vv := reflect.ValueOf(c.decoded), reflect.ValueOf(v); dv.Type() == vv.Type() {
			vv.Elem().Set(dv.Elem())
			return nil
		}
	}
	if err := wire.Decode(c.body, v); err != nil {
		if errors.Is(err, wire.ErrAmountSyntax) {
			return err
		}
		return &malformed{err}
	}
	return nil
}

// pathID reads an id from the path.
func (c *call) pathID(name string) (tongbao.ID, error) {
	return tongbao.ParseID(c.r.PathValue(name))
}

type ctxKey struct{}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestID returns the client's X-Request-Id if it is short and plain,
// else a new one.
func requestID(r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > RequestIDMax {
		return newRequestID()
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return newRequestID()
		}
	}
	return id
}

// requestLog is what a request's context carries to make its logger:
// made only when something is logged, as most requests log nothing below
// the server's level.
type requestLog struct {
	base *slog.Logger
	id   string
}

// Logger returns the request's logger (with its request id) from a
// handler's context.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*requestLog); ok {
		return l.base.With("request_id", l.id)
	}
	return slog.Default()
}

// wrap is every request's path: request id, logger, metrics, auth, role,
// idempotency, body, handler, rendering.
func (s *Server) wrap(rt *route) http.Handler {
	label := rt.pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := requestID(r)
		ctx := context.WithValue(r.Context(), ctxKey{}, &requestLog{base: s.log, id: rid})
		w.Header().Set("X-Request-Id", rid)
		sw := &statusWriter{ResponseWriter: w}
		var p Principal
		if rt.raw != nil {
			rt.raw(sw, r.WithContext(ctx))
		} else {
			p = s.serve(ctx, sw, r, rt, rid)
		}
		elapsed := time.Since(start)
		s.metrics.observe(r.Method, label, sw.status, elapsed)
		level := slog.LevelInfo
		switch {
		case sw.status == http.StatusServiceUnavailable:
			level = slog.LevelWarn // a standby's or a handover's answer, retried
		case sw.status >= 500:
			level = slog.LevelError
		}
		if s.log.Enabled(ctx, level) {
			s.log.LogAttrs(ctx, level, "request", slog.String("request_id", rid), slog.String("method", r.Method), slog.String("route", label), slog.String("path", r.URL.Path),
				slog.Int("status", sw.status), slog.Duration("duration", elapsed), slog.String("role", p.Role), slog.String("key_id", p.KeyID))
		}
	})
}

// serve runs a route's handler; ctx is the request's, with its logger
// (r is left as it came, which spares copying it).
func (s *Server) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, rt *route, rid string) Principal {
	fail := func(err error) {
		p := Problem(err)
		p.Instance, p.RequestID = r.URL.Path, rid
		if t, internal := problemOf(err); internal || t == ProblemUnavailable {
			logFailure(ctx, err, internal)
		}
		writeProblem(w, p)
	}
	// A public route (a signed event) is authenticated by its body, not
	// by a key.
	var p Principal
	if !rt.public {
		var ok bool
		if p, ok = s.keys.Lookup(bearer(r.Header.Get("Authorization"))); !ok {
			fail(errUnauthorized)
			return Principal{}
		}
		if !slices.Contains(rt.roles, p.Role) {
			fail(errForbidden)
			return p
		}
	}
	cur, err := s.current()
	if err != nil {
		fail(err)
		return p
	}
	c := &call{r: r, ctx: ctx, svc: cur.Payments, merchant: cur.Merchant, scenario: cur.Scenario, contracts: cur.Contracts, offline: cur.Offline, p: p, subject: p.subject(), status: rt.status, requestID: rid}
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if r.Method == http.MethodPost {
		body, err := readBody(w, r)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				fail(errTooLarge)
			} else {
				fail(&malformed{err})
			}
			return p
		}
		if len(body) > 0 && !rt.takes(r.Header.Get("Content-Type")) {
			fail(rt.unsupported())
			return p
		}
		c.body = body
	}
	key := r.Header.Get("Idempotency-Key")
	if rt.public {
		// Anonymous callers share no subject to keep answers under: a
		// public route is idempotent by its body (an event id).
		key = ""
	}
	if rt.money && key == "" {
		fail(errIdempotencyRequired)
		return p
	}
	if len(key) > IdempotencyKeyMax {
		fail(tongbao.Errorf(tongbao.EINVALID, "the Idempotency-Key is longer than %d bytes", IdempotencyKeyMax))
		return p
	}
	c.key = key
	if key == "" || r.Method != http.MethodPost {
		v, err := rt.handle(c)
		if err != nil {
			fail(err)
			return p
		}
		if raw, ok := v.(rawBody); ok {
			w.Header().Set("Content-Type", raw.ctype)
			w.WriteHeader(c.status)
			w.Write(raw.body)
			return p
		}
		writeJSON(w, c.status, v)
		return p
	}
	// A POST with a key: the first answer is kept and replayed.
	sum := askedHash(c, rt)
	cacheKey := c.subject + "\x00" + key
	a, first := s.idem.begin(cacheKey, sum)
	for !first {
		select {
		case <-a.done:
		case <-ctx.Done():
			fail(tongbao.Errorf(tongbao.EUNAVAILABLE, "the first request under this key is still running"))
			return p
		}
		if a.hash != sum {
			fail(errIdempotencyConflict)
			return p
		}
		if a.status != 0 {
			w.Header().Set("Idempotent-Replayed", "true")
			s.replay(w, a, r.URL.Path, rid)
			return p
		}
		// The first left no answer: this one runs, or waits on another
		// retry that does.
		a, first = s.idem.begin(cacheKey, sum)
	}
	v, err := rt.handle(c)
	if err != nil {
		t, internal := problemOf(err)
		if internal || t.retryable() {
			s.idem.forget(a)
			fail(err)
			return p
		}
		a.status, a.problem = t.Status, Problem(err)
		a.problem.Instance = r.URL.Path
		s.idem.finish(a)
		s.replay(w, a, r.URL.Path, rid)
		return p
	}
	b, merr := wire.Encode(v)
	if merr != nil {
		s.idem.forget(a)
		fail(merr)
		return p
	}
	b = append(b, '\n')
	a.status = c.status
	if packed, ok := packAnswer(v); ok {
		a.packed = packed
	} else {
		a.body = b[:len(b):len(b)]
		if cap(b) > len(b)+len(b)/8 {
			a.body = append([]byte(nil), b...) // not the room wire.Encode left
		}
	}
	s.idem.finish(a)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	w.Write(b)
	return p
}

// replay writes a kept answer: a refusal with the request id of the
// request it answers now.
func (s *Server) replay(w http.ResponseWriter, a *answer, path, rid string) {
	switch {
	case a.problem != nil:
		p := *a.problem
		p.RequestID = rid
		writeProblem(w, &p)
		return
	case a.packed != nil:
		v, err := unpackAnswer(a.packed)
		if err == nil {
			var b []byte
			if b, err = wire.Encode(v); err == nil {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(a.status)
				w.Write(append(b, '\n'))
				return
			}
		}
		p := Problem(err)
		p.Instance, p.RequestID = path, rid
		writeProblem(w, p)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// requestType is the type of a route's request body, and whether it
// holds times.
type requestType struct {
	t     reflect.Type
	times bool
}

// requestTypes are the types of the routes' request bodies, by schema
// name.
var requestTypes = func() map[string]requestType {
	m := make(map[string]requestType, len(schemaTypes))
	for name, v := range schemaTypes {
		t := reflect.TypeOf(v)
		m[name] = requestType{t: t, times: hasTime(t)}
	}
	return m
}()

// hasTime reports whether a struct type has a time.Time or *time.Time
// field, itself or in a struct field.
func hasTime(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		f := t.Field(i).Type
		if f == typeTime || f == reflect.PointerTo(typeTime) || f.Kind() == reflect.Struct && hasTime(f) {
			return true
		}
	}
	return false
}

// inUTC returns a copy of a struct with its times, and those of its
// struct fields, in UTC: an instant written with another offset is the
// same request. The struct itself is left alone, as its handler reads it.
func inUTC(v reflect.Value) reflect.Value {
	cp := reflect.New(v.Type()).Elem()
	cp.Set(v)
	for i := range cp.NumField() {
		f := cp.Field(i)
		switch {
		case !f.CanSet():
		case f.Type() == typeTime:
			f.Set(reflect.ValueOf(f.Interface().(time.Time).UTC()))
		case f.Type() == reflect.PointerTo(typeTime) && !f.IsNil():
			u := f.Elem().Interface().(time.Time).UTC()
			f.Set(reflect.ValueOf(&u))
		case f.Kind() == reflect.Struct && hasTime(f.Type()):
			f.Set(inUTC(f))
		}
	}
	return cp
}

// askedHash returns the hash of what a request asks: its method, its path
// and its body as decoded, encoded again. So the same request re-spaced,
// with its members in another order or its amounts and ids written
// another way ("12.3" and "12.30"), its times with another offset, is
// the same request here, as it is to the domain after a restart, when
// this memory is gone and the retry is compared with what was done. A
// body that does not decode is hashed as it came. The decoded body is
// kept for the handler.
func askedHash(c *call, rt *route) [32]byte {
	asked := make([]byte, 0, 64+len(c.r.URL.Path)+len(c.body)+len(c.body)/4)
	asked = append(append(asked, c.r.Method...), ' ')
	asked = append(append(asked, c.r.URL.Path...), 0)
	if t, ok := requestTypes[rt.request]; ok && len(c.body) > 0 {
		pv := reflect.New(t.t)
		if wire.Decode(c.body, pv.Interface()) == nil {
			hashed := pv
			if t.times {
				hashed = inUTC(pv.Elem()).Addr()
			}
			if decoded, err := wire.Append(append(asked, 'd'), hashed.Interface()); err == nil {
				c.decoded = pv.Interface()
				return sha256.Sum256(decoded)
			}
		}
	}
	return sha256.Sum256(append(append(asked, 'r'), c.body...))
}

// takes reports whether a route takes a body of the content type ctype.
func (rt *route) takes(ctype string) bool {
	if len(rt.bodyTypes) == 0 {
		return isJSON(ctype)
	}
	mt, _, err := mime.ParseMediaType(ctype)
	return err == nil && slices.Contains(rt.bodyTypes, mt)
}

// unsupported is the refusal of a body of a content type the route does
// not take.
func (rt *route) unsupported() error {
	if len(rt.bodyTypes) == 0 {
		return errUnsupportedMediaType
	}
	return &tongbao.Error{Code: tongbao.EINVALID, Err: errUnsupportedMediaType, Message: "the body must be sent with Content-Type: " + strings.Join(rt.bodyTypes, " or ")}
}

// isJSON reports whether a request's Content-Type is application/json,
// with no parameter but a charset of UTF-8.
func isJSON(ctype string) bool {
	if ctype == "application/json" {
		return true
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil || mt != "application/json" {
		return false
	}
	for name, value := range params {
		if name != "charset" || !strings.EqualFold(value, "utf-8") {
			return false
		}
	}
	return true
}

// readBody reads a request's body, up to BodyMax bytes, into a buffer of
// the size announced when there is one (net/http ends such a body there).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength <= 0 || r.ContentLength > BodyMax {
		return io.ReadAll(http.MaxBytesReader(w, r.Body, BodyMax))
	}
	// net/http ends the body at its announced length, so the limit holds.
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, b); err != nil {
		return nil, err
	}
	return b, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := wire.Encode(v)
	if err != nil {
		writeProblem(w, Problem(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	// The mux sends a known path with another method here too.
	for _, rt := range s.routes {
		if rt.method != r.Method && matchPattern(rt.pattern, r.URL.Path) {
			p := &wire.Problem{Type: ProblemMethodNotAllowed.URI(), Title: ProblemMethodNotAllowed.Title, Status: ProblemMethodNotAllowed.Status, Instance: r.URL.Path}
			writeProblem(w, p)
			return
		}
	}
	p := &wire.Problem{Type: ProblemNotFound.URI(), Title: ProblemNotFound.Title, Status: ProblemNotFound.Status, Instance: r.URL.Path}
	writeProblem(w, p)
}

// matchPattern reports whether a path matches a route pattern with
// {name} segments.
func matchPattern(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") {
			if xs[i] == "" {
				return false
			}
			continue
		}
		if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, wire.Health{Status: "ok"})
}

// readyz answers 200 only on a process that serves writes, so that a load
// balancer sends traffic to the writer and drains the others.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	cur, err := s.current()
	writer := err == nil
	switch {
	case s.closing.Load():
		writeJSON(w, http.StatusServiceUnavailable, wire.Health{Status: "closing", Writer: &writer})
	case !writer:
		writeJSON(w, http.StatusServiceUnavailable, wire.Health{Status: "standby", Writer: &writer})
	default:
		if _, err := cur.Payments.CentralBank(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, wire.Health{Status: "no central bank", Writer: &writer})
			return
		}
		writeJSON(w, http.StatusOK, wire.Health{Status: "ready", Writer: &writer})
	}
}

// stats returns the counters of the ledger served now, nil when none is.
func (s *Server) stats() *ledger.Stats {
	if cur, err := s.current(); err == nil {
		return cur.Ledger.Stats()
	}
	return nil
}

// logFailure logs a request that failed for the node's sake rather than
// the caller's: an internal error, or a storage failure behind a 503, as
// an error; a 503 that only asks for a retry (a settlement window closed
// under the payment, the node shutting down) as a warning.
func logFailure(ctx context.Context, err error, internal bool) {
	var e *tongbao.Error
	if internal || !errors.As(err, &e) || e.Err != nil {
		Logger(ctx).Error("request failed", "err", err)
		return
	}
	Logger(ctx).Warn("request refused for now; the caller may retry", "err", err)
}
