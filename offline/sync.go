package offline

import (
	"bytes"
	"cmp"
	"context"
	"slices"

	"errors"
	"fmt"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"runtime"
	"sync"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/twotier"
)

// Sync: tokens reach the ledger when either side reconnects, in batches.
// Each token is decided once, by its hash, under syncMu:
//
//   - refused: it fails a check a payee's device makes too (signature,
//     certificate, caps, revocation) or names an unknown device; nothing
//     is stored, so a corrected upload is not blocked;
//   - duplicate: its hash is stored already; the answer is the stored
//     outcome, and nothing moves again;
//   - accepted: stored with where its money comes from, then paid by
//     the ledger under an id derived from its hash, so a retry after a
//     crash pays once (Recover pays what a crash left pending).
//
// A token that conflicts with what the ledger knows of its device (a
// second token with one counter, a broken chain, a purse spent past what
// was loaded, an acknowledgement the ledger never gave) is a double
// spend: the device is suspended and a fraud case opened or extended, and
// the token is settled by the loss policy (see docs/offline.md): paid
// from the device's purse while it holds enough, then advanced by the
// operator up to the device's balance cap per case, which the operator
// then takes back from the holder's wallet as far as it holds money;
// past the cap, the token is rejected and its payee bears it.

// Per-token outcomes of a sync.
const (
	ResultSettled   = "settled"   // the payee was credited now
	ResultPending   = "pending"   // accepted; the ledger has not paid yet (it retries)
	ResultDuplicate = "duplicate" // uploaded before: Status says its outcome
	ResultRefused   = "refused"   // failed a check: nothing stored, nothing paid
	ResultRejected  = "rejected"  // a double spend past the loss policy's cover
)

// Finding kinds of a fraud case.
const (
	FindingDoubleSpend = "offline-double-spend"
	FindingChainBroken = "offline-chain-broken"
	FindingOverspend   = "offline-overspend"
	FindingForgedAck   = "offline-forged-ack"
)

// TokenResult is the outcome of one uploaded token.
type TokenResult struct {
	Hash    Hash
	Result  string
	Problem error // for refused and rejected tokens, and pending ones the ledger refused for now
	Payer   tongbao.ID
	Payee   tongbao.ID
	Counter uint64
	Amount  tongbao.Amount
	// Status and Source are the stored token's, once stored.
	Status TokenStatus
	Source Source
	Case   tongbao.ID
}

// SyncResult is the answer to a sync.
type SyncResult struct {
	Results []TokenResult
	// Ack is, for a sync by a device, the signed acknowledgement of the
	// tokens it signed that the ledger holds (with a renewed certificate
	// when its own is past half its life).
	Ack []byte
	// Decided lists the uploaded tokens the ledger has decided (all but
	// those under a certificate not valid yet by the ledger's clock): a
	// device drops them from its inbox.
	Decided []Hash
}

// candidate is an uploaded token through the checks that need no store.
type candidate struct {
	i    int
	hash Hash
	tok  Token
	err  error
}

// Sync takes a batch of uploaded tokens: those a device signed and those
// it received. uploader is the device uploading (zero for an operator's
// bulk upload); it receives a signed acknowledgement.
func (s *Service) Sync(ctx context.Context, uploader tongbao.ID, raws [][]byte) (SyncResult, error) {
	if len(raws) > UploadMax {
		return SyncResult{}, ErrUploadTooMany
	}
	cands := s.verifyAll(raws)
	s.syncMu.Lock()
	res, pay, err := s.decide(ctx, uploader, cands)
	s.syncMu.Unlock()
	if err != nil {
		return SyncResult{}, err
	}
	if err := s.settle(ctx, pay, res.Results); err != nil {
		return SyncResult{}, err
	}
	answerCopies(res.Results)
	if !uploader.IsZero() {
		if res.Ack, err = s.ack(ctx, uploader); err != nil {
			return SyncResult{}, err
		}
	}
	return res, nil
}

// answerCopies answers each later copy of a token in one upload (left
// without a result by decide) as its first copy was answered: a
// duplicate of one accepted, or refused or rejected as it was.
func answerCopies(rs []TokenResult) {
	first := make(map[Hash]int, len(rs))
	for i, r := range rs {
		if r.Result == "" {
			continue
		}
		if _, ok := first[r.Hash]; !ok {
			first[r.Hash] = i
		}
	}
	for i := range rs {
		r := &rs[i]
		if r.Result != "" {
			continue
		}
		k, ok := first[r.Hash]
		if !ok {
			r.Result = ResultDuplicate
			continue
		}
		f := rs[k]
		r.Status, r.Source, r.Case = f.Status, f.Source, f.Case
		switch f.Result {
		case ResultRefused, ResultRejected:
			r.Result, r.Problem = f.Result, f.Problem
		default:
			r.Result = ResultDuplicate
		}
	}
}

// verifyAll parses and verifies every token, in parallel chunks: the
// signatures are most of a sync's work and need no lock. Each chunk's
// token signatures are checked as one batch (batch.go).
func (s *Service) verifyAll(raws [][]byte) []candidate {
	out := make([]candidate, len(raws))
	const chunk = 128
	var wg sync.WaitGroup
	next := make(chan int, len(raws)/chunk+1)
	for lo := 0; lo < len(raws); lo += chunk {
		next <- lo
	}
	close(next)
	for range min(runtime.GOMAXPROCS(0), len(raws)/chunk+1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				s.verifyChunk(raws, out, lo, min(lo+chunk, len(raws)))
			}
		}()
	}
	wg.Wait()
	return out
}

// verifyChunk parses raws[lo:hi] and checks their signatures as a batch.
func (s *Service) verifyChunk(raws [][]byte, out []candidate, lo, hi int) {
	var ins []sigInput
	var at []int
	for i := lo; i < hi; i++ {
		c := candidate{i: i, hash: HashOf(raws[i])}
		if c.tok, c.err = parseToken(raws[i], s.verifiedCertificate); c.err == nil {
			var in sigInput
			if in, c.err = c.tok.signature.signedInput(c.tok.Cert.Key, c.tok.Cert.expanded); c.err == nil {
				ins, at = append(ins, in), append(at, i)
			}
		}
		out[i] = c
	}
	for k, ok := range verifyBatch(ins) {
		if !ok {
			out[at[k]].err = ErrBadSignature
		}
	}
}

// verifiedCertificate parses a certificate and verifies it with the
// operator keys, or returns it from the certificates verified before: a
// device's tokens all carry the same one.
func (s *Service) verifiedCertificate(raw []byte) (Certificate, error) {
	h := HashOf(raw)
	s.certsMu.Lock()
	c, ok := s.certs[h]
	s.certsMu.Unlock()
	if ok {
		return c, nil
	}
	c, err := ParseCertificate(raw)
	if err != nil {
		return Certificate{}, err
	}
	s.keysMu.RLock()
	err = s.trust.VerifyCertificate(c)
	s.keysMu.RUnlock()
	if err != nil {
		return Certificate{}, err
	}
	if c.expanded, err = voi.NewExpandedPublicKey(voi.PublicKey(c.Key)); err != nil {
		return Certificate{}, ErrBadSignature
	}
	s.certsMu.Lock()
	if len(s.certs) >= certCacheMax {
		clear(s.certs)
	}
	s.certs[h] = c
	s.certsMu.Unlock()
	return c, nil
}

// payment is a token accepted in this sync, to pay.
type payment struct {
	rec      TokenRecord
	operator tongbao.ID // the payer's
	at       int        // its index in the results
}

// decide checks the verified tokens against the ledger's records and
// stores the accepted ones with the device and case changes, in one
// transaction.
func (s *Service) decide(ctx context.Context, uploader tongbao.ID, cands []candidate) (_ SyncResult, _ []payment, err error) {
	now := s.clock.Now()
	res := SyncResult{Results: make([]TokenResult, len(cands))}
	var hashes []Hash
	ids := map[tongbao.ID]bool{}
	if !uploader.IsZero() {
		ids[uploader] = true
	}
	for k := range cands {
		c := &cands[k]
		r := &res.Results[c.i]
		r.Hash = c.hash
		if c.err != nil {
			// A token that does not parse or verify never will.
			r.Result, r.Problem = ResultRefused, c.err
			res.Decided = append(res.Decided, c.hash)
			continue
		}
		r.Payer, r.Payee, r.Counter, r.Amount = c.tok.Payer(), c.tok.Payee, c.tok.Counter, c.tok.Amount
		ids[c.tok.Payer()], ids[c.tok.Payee] = true, true
	}
	b := &batchState{s: s, ctx: ctx, now: now, cases: map[tongbao.ID]*Case{}}
	if err := b.preload(cands); err != nil {
		return SyncResult{}, nil, err
	}
	// Only a token whose hash the link cache holds, or whose place it
	// does not know, may be stored already: the store is asked of those.
	for k := range cands {
		c := &cands[k]
		if c.err != nil {
			continue
		}
		if ls, ok := s.links.get(c.tok.Payer(), c.tok.Counter); !ok || anyHash(ls, c.tok.Hash) {
			hashes = append(hashes, c.tok.Hash)
		}
	}
	// The marks of tokens paid since the last batch go with this batch;
	// a duplicate among them is answered settled, as it is.
	marks := s.takeMarks()
	defer func() {
		if err != nil {
			s.markSettled(ctx, marks)
		}
	}()
	stored, err := s.store.Tokens(ctx, hashes)
	if err != nil {
		return SyncResult{}, nil, err
	}
	marked := make(map[Hash]bool, len(marks))
	for _, h := range marks {
		marked[h] = true
	}
	for h, t := range stored {
		if t.Status == TokenPending && marked[h] {
			t.Status = TokenSettled
			stored[h] = t
		}
	}
	idList := make([]tongbao.ID, 0, len(ids))
	for id := range ids {
		idList = append(idList, id)
	}
	devices, err := s.store.DevicesByID(ctx, idList)
	if err != nil {
		return SyncResult{}, nil, err
	}
	if !uploader.IsZero() {
		if _, ok := devices[uploader]; !ok {
			return SyncResult{}, nil, ErrDeviceNotFound
		}
	}

	// Decide in the order of each device's counters, so a chain checks
	// against the token before it whichever side uploaded first.
	order := make([]*candidate, 0, len(cands))
	first := make(map[Hash]int, len(cands)) // a token's first copy in this batch
	for k := range cands {
		c := &cands[k]
		r := &res.Results[c.i]
		if c.err != nil {
			continue
		}
		if st, ok := stored[c.tok.Hash]; ok {
			r.Result, r.Status, r.Source, r.Case = ResultDuplicate, st.Status, st.Source, st.Case
			res.Decided = append(res.Decided, c.tok.Hash)
			continue
		}
		if _, ok := first[c.tok.Hash]; ok {
			continue // a later copy: Sync answers it as its first (answerCopies)
		}
		first[c.tok.Hash] = c.i
		order = append(order, c)
	}
	slices.SortStableFunc(order, func(x, y *candidate) int {
		if c := bytes.Compare(x.tok.Cert.Device[:], y.tok.Cert.Device[:]); c != 0 {
			return c
		}
		return cmp.Compare(x.tok.Counter, y.tok.Counter)
	})

	b.devices = devices
	pays := make([]payment, 0, len(order))
	b.batch.Tokens = make([]TokenRecord, 0, len(order))
	for _, c := range order {
		r := &res.Results[c.i]
		rec, err := b.accept(&c.tok)
		if err != nil {
			if tongbao.ErrorCode(err) == tongbao.EINTERNAL || errors.Is(err, context.Canceled) {
				return SyncResult{}, nil, err
			}
			r.Result, r.Problem = ResultRefused, err
			// Refused for good, but for a certificate the ledger's clock
			// does not yet reach (the device's ran ahead): it may pass.
			if !errors.Is(err, ErrCertNotYet) {
				res.Decided = append(res.Decided, c.tok.Hash)
			}
			continue
		}
		r.Status, r.Source, r.Case = rec.Status, rec.Source, rec.Case
		res.Decided = append(res.Decided, c.tok.Hash)
		b.batch.Tokens = append(b.batch.Tokens, rec)
		if rec.Status == TokenRejected {
			r.Result, r.Problem = ResultRejected, errUncovered
			continue
		}
		r.Result = ResultPending
		pays = append(pays, payment{rec: rec, operator: devices[rec.Payer].Operator, at: c.i})
	}
	b.batch.Settled, b.batch.SettledAt = marks, now
	if len(b.batch.Tokens) == 0 && len(b.changed) == 0 && len(b.batch.Settled) == 0 {
		return res, nil, nil
	}
	for id := range b.changed {
		d := devices[id]
		d.UpdatedAt = now
		b.batch.Devices = append(b.batch.Devices, d)
	}
	slices.SortFunc(b.batch.Devices, func(x, y Device) int { return bytes.Compare(x.ID[:], y.ID[:]) })
	for _, c := range b.cases {
		b.batch.Cases = append(b.batch.Cases, *c)
	}
	if err := s.store.WriteBatch(ctx, b.batch); err != nil {
		return SyncResult{}, nil, err
	}
	for p, ch := range b.added {
		for _, ls := range ch {
			for _, l := range ls {
				s.links.add(p, l)
			}
		}
	}
	return res, pays, nil
}

var errUncovered = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-double-spend", "the payer device double-spent past what the loss policy covers: this token is not paid")

// batchState is one sync's decisions so far.
type batchState struct {
	s       *Service
	ctx     context.Context
	now     time.Time
	devices map[tongbao.ID]Device
	changed map[tongbao.ID]bool
	cases   map[tongbao.ID]*Case // by device
	// added are the links of the tokens this batch stores, kept apart
	// until it commits.
	added map[tongbao.ID]map[uint64][]TokenLink
	batch Batch
}

// preload makes the service's link cache know the tokens the ledger
// holds next to each token of the batch (its counter, the one before and
// the one after), reading what it does not know in one query per payer.
func (b *batchState) preload(cands []candidate) error {
	want := map[tongbao.ID][]uint64{}
	for k := range cands {
		c := &cands[k]
		if c.err != nil {
			continue
		}
		p, n := c.tok.Payer(), c.tok.Counter
		want[p] = append(want[p], max(n, 2)-1, n, n+1)
	}
	for p, counters := range want {
		if err := b.s.links.fill(b.ctx, b.s.store, p, counters); err != nil {
			return err
		}
	}
	return nil
}

// at returns the links of payer's tokens at counter: those the ledger
// holds and those this batch adds.
func (b *batchState) at(payer tongbao.ID, counter uint64) ([]TokenLink, error) {
	ls, ok := b.s.links.get(payer, counter)
	if !ok {
		if err := b.s.links.fill(b.ctx, b.s.store, payer, []uint64{counter}); err != nil {
			return nil, err
		}
		ls, _ = b.s.links.get(payer, counter)
	}
	ls = ls[:len(ls):len(ls)] // appending below must not write into the cache
	if more := b.added[payer][counter]; len(more) > 0 {
		ls = append(ls, more...)
	}
	return ls, nil
}

// accept decides one verified token new to the ledger: refused (an
// error), or a record to store.
func (b *batchState) accept(tok *Token) (TokenRecord, error) {
	d, ok := b.devices[tok.Payer()]
	if !ok {
		return TokenRecord{}, ErrDeviceNotFound
	}
	if !bytesEqual(d.Key, tok.Cert.Key) || d.Wallet != tok.Cert.Wallet || d.Operator != tok.Cert.Operator {
		return TokenRecord{}, fmt.Errorf("%w: the certificate does not match the device the ledger knows", ErrBadSignature)
	}
	if d.State == DeviceRevoked {
		return TokenRecord{}, ErrRevoked
	}
	if b.now.Before(tok.Cert.IssuedAt) {
		return TokenRecord{}, ErrCertNotYet
	}
	if !b.now.Before(tok.Cert.Expires.Add(b.s.cfg.ArrivalGrace)) {
		return TokenRecord{}, ErrCertExpired
	}
	if err := tok.checkCaps(); err != nil {
		return TokenRecord{}, err
	}
	rec := TokenRecord{Hash: tok.Hash, Payer: tok.Payer(), Counter: tok.Counter, Prev: tok.Prev, Payee: tok.Payee,
		Amount: tok.Amount, Kind: tok.Kind, Status: TokenPending, Source: SourcePurse, Raw: tok.Raw, UploadedAt: b.now}
	if tok.Kind == KindUnload {
		rec.PayeeWallet = d.Wallet
	} else {
		payee, ok := b.devices[tok.Payee]
		if !ok {
			return TokenRecord{}, fmt.Errorf("%w: the payee device", ErrDeviceNotFound)
		}
		rec.PayeeWallet = payee.Wallet
	}
	same, err := b.at(tok.Payer(), tok.Counter)
	if err != nil {
		return TokenRecord{}, err
	}
	var findings []string
	if len(same) > 0 {
		findings = append(findings, FindingDoubleSpend)
	}
	if tok.Counter > 1 {
		prev, err := b.at(tok.Payer(), tok.Counter-1)
		if err != nil {
			return TokenRecord{}, err
		}
		if len(prev) > 0 && !anyHash(prev, tok.Prev) {
			findings = append(findings, FindingChainBroken)
		}
	}
	next, err := b.at(tok.Payer(), tok.Counter+1)
	if err != nil {
		return TokenRecord{}, err
	}
	for _, n := range next {
		if n.Prev != tok.Hash && len(same) == 0 {
			findings = append(findings, FindingChainBroken)
			break
		}
	}
	if tok.Synced > d.Acked {
		findings = append(findings, FindingForgedAck)
	}
	if d.Purse() < tok.Amount {
		findings = append(findings, FindingOverspend)
	}
	b.add(tok.Payer(), TokenLink{Counter: rec.Counter, Hash: rec.Hash, Prev: rec.Prev})

	if len(findings) > 0 {
		rec = b.fraud(&d, rec, findings)
	}
	if rec.Status == TokenPending && rec.Source == SourcePurse {
		if tok.Kind == KindUnload {
			d.Unloaded += tok.Amount
		} else {
			d.Spent += tok.Amount
		}
	}
	b.devices[d.ID] = d
	b.markChanged(d.ID)
	return rec, nil
}

func (b *batchState) add(payer tongbao.ID, l TokenLink) {
	if b.added == nil {
		b.added = map[tongbao.ID]map[uint64][]TokenLink{}
	}
	if b.added[payer] == nil {
		b.added[payer] = map[uint64][]TokenLink{}
	}
	b.added[payer][l.Counter] = append(b.added[payer][l.Counter], l)
}

func (b *batchState) markChanged(id tongbao.ID) {
	if b.changed == nil {
		b.changed = map[tongbao.ID]bool{}
	}
	b.changed[id] = true
}

// fraud applies the loss policy to a token that conflicts with its
// device's record: the device is suspended, the case opened or extended,
// and the token paid from the purse, advanced by the operator, or
// rejected.
func (b *batchState) fraud(d *Device, rec TokenRecord, findings []string) TokenRecord {
	c, ok := b.cases[d.ID]
	if !ok {
		c = &Case{ID: tongbao.DeriveID("offline-case", d.ID, b.now.UnixNano()), Device: d.ID, Operator: d.Operator, Wallet: d.Wallet, Status: CaseOpen, OpenedAt: b.now}
		if open, err := b.s.openCase(b.ctx, d.ID); err == nil && open != nil {
			c = open
		}
		b.cases[d.ID] = c
	}
	for _, f := range findings {
		c.Findings = append(c.Findings, fmt.Sprintf("%s@%d", f, rec.Counter))
	}
	c.Tokens = append(c.Tokens, rec.Hash)
	c.UpdatedAt = b.now
	rec.Case = c.ID
	if d.State == DeviceActive {
		d.State, d.Reason = DeviceSuspended, "frozen by fraud case "+c.ID.String()
	}
	switch {
	case d.Purse() >= rec.Amount:
		rec.Source = SourcePurse
	case d.Advanced+rec.Amount <= d.Caps.Balance:
		rec.Source = SourceOperator
		d.Advanced += rec.Amount
		c.Advanced += rec.Amount
	default:
		rec.Status, rec.Source, rec.Problem = TokenRejected, "", errUncovered.Kind
		c.Refused += rec.Amount
	}
	return rec
}

// openCase returns the device's open fraud case, if any.
func (s *Service) openCase(ctx context.Context, device tongbao.ID) (*Case, error) {
	for after := (tongbao.ID{}); ; {
		cs, err := s.store.Cases(ctx, tongbao.ID{}, after, ListMax)
		if err != nil {
			return nil, err
		}
		for i := range cs {
			if cs[i].Device == device && cs[i].Status == CaseOpen {
				return &cs[i], nil
			}
		}
		if len(cs) < ListMax {
			return nil, nil
		}
		after = cs[len(cs)-1].ID
	}
}

func anyHash(ts []TokenLink, h Hash) bool {
	for _, t := range ts {
		if t.Hash == h {
			return true
		}
	}
	return false
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// tokenPaymentID is the ledger id of a token's payment: one per token.
func tokenPaymentID(h Hash) tongbao.ID { return tongbao.DeriveID("offline-token", string(h[:])) }

// settle pays the accepted tokens: the advances first (vault → float),
// then every payment from the floats in one batch, then marks the paid
// ones settled. A token the ledger refuses for now (a payee wallet's
// state or cap) stays pending, its result saying why; Recover retries.
func (s *Service) settle(ctx context.Context, pays []payment, results []TokenResult) error {
	if len(pays) == 0 {
		return nil
	}
	for _, p := range pays {
		if p.rec.Source != SourceOperator {
			continue
		}
		if _, err := s.tt.OfflineAdvance(ctx, tongbao.DeriveID("offline-advance", string(p.rec.Hash[:])), p.operator, p.rec.Amount); err != nil {
			return fmt.Errorf("offline: advance for token %v: %w", p.rec.Hash, err)
		}
	}
	ps := make([]twotier.Payment, len(pays))
	for i, p := range pays {
		ps[i] = twotier.Payment{ID: tokenPaymentID(p.rec.Hash), From: twotier.OfflineFloatID(p.operator), To: p.rec.PayeeWallet, Amount: p.rec.Amount}
	}
	var paid []Hash
	for start := 0; start < len(ps); start += twotier.PayBatchMax {
		end := min(start+twotier.PayBatchMax, len(ps))
		outs, err := s.tt.OfflinePayBatch(ctx, ps[start:end])
		if err != nil {
			return err
		}
		for k, o := range outs {
			p := pays[start+k]
			if o.Err != nil {
				if results != nil {
					results[p.at].Problem = o.Err
				}
				continue
			}
			paid = append(paid, p.rec.Hash)
			if results != nil {
				results[p.at].Result, results[p.at].Status = ResultSettled, TokenSettled
			}
		}
	}
	s.markSettled(ctx, paid)
	return s.recoverAdvances(ctx, pays)
}

// markSettledMax bounds the paid tokens waiting to be marked settled with
// the next batch.
const markSettledMax = 4 * UploadMax

// markSettled queues paid tokens to be marked settled by the next sync's
// transaction, rather than one of their own: the mark only spares a
// retry, since the ledger pays a token's id once. Queued marks are lost
// in a crash; RetryPending then finds those tokens pending, and their
// payment again is a duplicate.
func (s *Service) markSettled(ctx context.Context, paid []Hash) {
	s.markMu.Lock()
	s.toMark = append(s.toMark, paid...)
	full := len(s.toMark) >= markSettledMax
	s.markMu.Unlock()
	if full {
		s.flushMarks(ctx)
	}
}

// takeMarks returns the queued marks, emptying the queue.
func (s *Service) takeMarks() []Hash {
	s.markMu.Lock()
	defer s.markMu.Unlock()
	out := s.toMark
	s.toMark = nil
	return out
}

// flushMarks writes the queued marks in a transaction of their own. A
// failure leaves them to RetryPending.
func (s *Service) flushMarks(ctx context.Context) error {
	marks := s.takeMarks()
	if len(marks) == 0 {
		return nil
	}
	return s.store.SetTokensSettled(ctx, marks, s.clock.Now())
}

// recoverAdvances takes back from the holders' wallets what the operator
// advanced for their devices' double spends, as far as each wallet holds
// money now.
func (s *Service) recoverAdvances(ctx context.Context, pays []payment) error {
	var cases []tongbao.ID
	seen := map[tongbao.ID]bool{}
	for _, p := range pays {
		if p.rec.Source == SourceOperator && !seen[p.rec.Case] {
			seen[p.rec.Case] = true
			cases = append(cases, p.rec.Case)
		}
	}
	for _, id := range cases {
		if err := s.recoverCase(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// recoverCase moves what the holder's wallet holds, up to what is still
// owed, back to the operator's vault, and records it on the case.
func (s *Service) recoverCase(ctx context.Context, id tongbao.ID) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	c, err := s.store.Case(ctx, id)
	if err != nil {
		return err
	}
	owed := c.Advanced - c.Recovered
	if owed <= 0 {
		return nil
	}
	bal, err := s.tt.Balance(ctx, c.Wallet)
	if err != nil {
		return err
	}
	take := min(owed, bal)
	if take <= 0 {
		return nil
	}
	// The id names the case and how much it had recovered: a retry of
	// this step is a duplicate, the next step a new transfer.
	if _, err := s.tt.OfflineRecover(ctx, tongbao.DeriveID("offline-recover", c.ID, int64(c.Recovered)), c.Wallet, take); err != nil {
		if tongbao.ErrorCode(err) == tongbao.EUNPROCESSABLE {
			return nil // the wallet's state or caps: the operator follows up by hand
		}
		return err
	}
	c.Recovered += take
	c.UpdatedAt = s.clock.Now()
	return s.store.UpdateCase(ctx, c)
}

// contiguous returns the highest counter from d.Acked up to which the
// ledger holds a token of d at every counter: what it may acknowledge.
func (s *Service) contiguous(ctx context.Context, d Device) (uint64, error) {
	n := d.Acked
	for {
		start := n
		ts, err := s.store.TokensOf(ctx, d.ID, n+1, n+OutboxMax)
		if err != nil {
			return d.Acked, err
		}
		for _, t := range ts { // by counter; a double spend repeats one
			if t.Counter == n+1 {
				n++
			} else if t.Counter > n+1 {
				return n, nil
			}
		}
		if n < start+OutboxMax {
			return n, nil
		}
	}
}

// ack signs the acknowledgement of a device's own tokens, renewing its
// certificate when past half its life and the device is active.
func (s *Service) ack(ctx context.Context, id tongbao.ID) ([]byte, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	d, err := s.store.Device(ctx, id)
	if err != nil {
		return nil, err
	}
	key, err := s.signingKey(ctx, d.Operator)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	acked, err := s.contiguous(ctx, d)
	if err != nil {
		return nil, err
	}
	if acked != d.Acked {
		d.Acked = acked
		if d, err = s.updateDevice(ctx, d); err != nil {
			return nil, err
		}
	}
	a := Ack{Device: d.ID, Counter: d.Acked, Operator: d.Operator, IssuedAt: now}
	if d.State == DeviceActive && (now.After(d.CertExpires.Add(-s.cfg.CertValidity/2)) || d.Caps != s.CapsOf(d.Operator)) {
		d.Caps = s.CapsOf(d.Operator)
		if d.Certificate, d.CertExpires, err = s.certificate(d, key, now); err != nil {
			return nil, err
		}
		if d, err = s.updateDevice(ctx, d); err != nil {
			return nil, err
		}
		a.Certificate = d.Certificate
	}
	return signAck(a, key)
}
