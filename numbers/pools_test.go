package numbers

import (
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestLifecycle(t *testing.T) {
	p := mustNew(t, onePool(3), nil)
	pi, ok := p.PoolIndex("p")
	if !ok {
		t.Fatal("pool p not found")
	}
	r, ok := p.Reserve(pi, testClaim(1), t0)
	if !ok || r.Ext != "" || r.Fallback || !ValidE164(r.E164) {
		t.Fatalf("Reserve = %+v, %v", r, ok)
	}
	i := refIndex(r.Ref)
	if st := p.stateOf(i); st != stHeld {
		t.Fatalf("after Reserve state %s, want held", stateNames[st])
	}
	if w := p.Win(r.Ref, false, t0.Add(time.Second)); w != WinLeased {
		t.Fatalf("Win = %s, want leased", w)
	}
	if w := p.Win(r.Ref, true, t0.Add(2*time.Second)); w != WinDuplicate {
		t.Fatalf("billing Win = %s, want duplicate", w)
	}
	p.Loss(r.Ref, t0.Add(3*time.Second)) // a loss after the win changes nothing
	if st := p.stateOf(i); st != stLeased {
		t.Fatalf("state %s, want leased", stateNames[st])
	}
	p.Sweep(t0.Add(30*time.Minute + time.Second))
	if st := p.stateOf(i); st != stCooldown {
		t.Fatalf("after lease state %s, want cooldown", stateNames[st])
	}
	p.Sweep(t0.Add(60*time.Minute + 2*time.Second))
	if st := p.stateOf(i); st != stFree {
		t.Fatalf("after cooldown state %s, want free", stateNames[st])
	}
	st := p.Stats().Pools[0]
	if st.Free != 3 || st.Reservations != 1 || st.Leases != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLossAndHoldExpiryFreeAtOnce(t *testing.T) {
	p := mustNew(t, onePool(1), nil)
	r, ok := p.Reserve(0, testClaim(1), t0)
	if !ok {
		t.Fatal("no number")
	}
	if _, ok := p.Reserve(0, testClaim(2), t0); ok {
		t.Fatal("a 1-number pool gave out a second number")
	}
	p.Loss(r.Ref, t0.Add(time.Second))
	r2, ok := p.Reserve(0, testClaim(3), t0.Add(time.Second))
	if !ok || r2.Ref == r.Ref {
		t.Fatalf("after loss Reserve = %+v, %v", r2, ok)
	}
	// hold expiry: lazily at the next Reserve, no sweep needed
	r3, ok := p.Reserve(0, testClaim(4), t0.Add(17*time.Second))
	if !ok {
		t.Fatal("expired hold was not freed")
	}
	if w := p.Win(r2.Ref, false, t0.Add(18*time.Second)); w != WinCollision {
		t.Fatalf("Win of expired, retaken hold = %s, want collision", w)
	}
	if w := p.Win(r3.Ref, false, t0.Add(18*time.Second)); w != WinLeased {
		t.Fatalf("Win = %s, want leased", w)
	}
	if got := p.Stats().Pools[0]; got.Collisions != 1 || got.ExhaustionNoBids != 1 || got.Losses != 1 {
		t.Fatalf("stats %+v", got)
	}
}

func TestLateWin(t *testing.T) {
	p := mustNew(t, onePool(2), nil)
	r, _ := p.Reserve(0, testClaim(1), t0)
	p.Sweep(t0.Add(20 * time.Second)) // hold expired
	if st := p.stateOf(refIndex(r.Ref)); st != stFree {
		t.Fatalf("state %s, want free", stateNames[st])
	}
	if w := p.Win(r.Ref, false, t0.Add(21*time.Second)); w != WinLate {
		t.Fatalf("Win = %s, want late", w)
	}
	if w := p.Win(r.Ref, false, t0.Add(22*time.Second)); w != WinDuplicate {
		t.Fatalf("second Win = %s, want duplicate", w)
	}
	// expired but not yet swept: also late
	r2, _ := p.Reserve(0, testClaim(2), t0.Add(30*time.Second))
	if w := p.Win(r2.Ref, false, t0.Add(50*time.Second)); w != WinLate {
		t.Fatalf("Win = %s, want late", w)
	}
	if got := p.Stats().Pools[0]; got.LateWins != 2 || got.Leased != 2 {
		t.Fatalf("stats %+v", got)
	}
	if w := p.Win(Ref(1<<40), false, t0); w != WinUnknown {
		t.Fatalf("Win of unknown entry = %s", w)
	}
}

func TestLRUOrder(t *testing.T) {
	p := mustNew(t, onePool(4), nil) // one shard: exact LRU
	now := t0
	var order []string
	for k := range 4 {
		r, _ := p.Reserve(0, testClaim(k), now)
		p.Win(r.Ref, false, now)
		order = append(order, r.E164)
		now = now.Add(time.Minute)
	}
	// all cool down and come back in the order they were leased
	p.Sweep(now.Add(2 * time.Hour))
	for k := range 4 {
		r, ok := p.Reserve(0, testClaim(10+k), now.Add(2*time.Hour))
		if !ok || r.E164 != order[k] {
			t.Fatalf("reserve %d gave %s, want %s (LRU)", k, r.E164, order[k])
		}
	}
}

func TestExtensions(t *testing.T) {
	cfg := Config{Pools: []PoolConfig{{ID: "x", Extensions: []ExtensionRange{
		{Number: "+18005550100", From: 1, To: 3}, {Number: "+18005550100", From: 98, To: 102}}}}}
	p := mustNew(t, cfg, nil)
	seen := map[string]bool{}
	for k := range 8 {
		r, ok := p.Reserve(0, testClaim(k), t0)
		if !ok || r.E164 != "+18005550100" {
			t.Fatalf("Reserve = %+v, %v", r, ok)
		}
		seen[r.Ext] = true
	}
	want := "1 2 3 98 99 100 101 102"
	for _, x := range strings.Fields(want) {
		if !seen[x] {
			t.Fatalf("extensions handed out %v, want %s", seen, want)
		}
	}
	if _, ok := p.Reserve(0, testClaim(9), t0); ok {
		t.Fatal("pool of 8 entries gave a 9th")
	}
	if i, ok := p.entryOf([]byte("+18005550100"), []byte("100")); !ok || p.keyString(i) != "+18005550100;ext=100" {
		t.Fatalf("entryOf(ext 100) = %d %v", i, ok)
	}
	if _, ok := p.entryOf([]byte("+18005550100"), []byte("4")); ok {
		t.Fatal("ext 4 is outside every range")
	}
}

func TestFallback(t *testing.T) {
	cfg := Config{CallsToken: "tok", Pools: []PoolConfig{{
		ID: "p", Numbers: plainNumbers(1), Exhaustion: PolicyFallback,
		Fallback: []FallbackConfig{{CampaignID: "camp-mortgage", Numbers: []string{"+18885550001", "+18885550002"}}},
	}}}
	p := mustNew(t, cfg, nil)
	if _, ok := p.Reserve(0, testClaim(0), t0); !ok {
		t.Fatal("first reserve failed")
	}
	c := testClaim(1)
	r, ok := p.Reserve(0, c, t0)
	if !ok || !r.Fallback {
		t.Fatalf("exhausted fallback pool: %+v %v", r, ok)
	}
	r2, _ := p.Reserve(0, c, t0)
	if r2.E164 != r.E164 {
		t.Fatalf("same bucket got %s then %s", r.E164, r2.E164)
	}
	if w := p.Win(r.Ref, false, t0); w != WinFallback {
		t.Fatalf("Win on fallback = %s", w)
	}
	other := &Claim{CampaignID: "other", PublisherID: "x"}
	if _, ok := p.Reserve(0, other, t0); ok {
		t.Fatal("campaign without fallback numbers got one")
	}
	if got := p.Stats().Pools[0]; got.ExhaustionNoBids != 3 || got.FallbackReserves != 2 {
		t.Fatalf("stats %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := Config{Pools: []PoolConfig{
		{ID: "a", Numbers: []string{"+18005550100", "+18005550101"}},
		{ID: "b", Numbers: []string{"+18005550102", "+18005550103", "+18005550104", "+1555", "+18005550100"},
			Cooldown: -time.Second,
			Extensions: []ExtensionRange{{Number: "+18005550200", From: 9, To: 1},
				{Number: "+18005550300", From: 1, To: 10}, {Number: "+18005550300", From: 10, To: 20}},
			Exhaustion: "panic"},
		{ID: "a"},
	}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, want := range []string{
		`pools[1].numbers[3]: "+1555" is not an E.164 number`,
		`pools[1].numbers[4]: "+18005550100" is already used by pools[0].numbers[0]`,
		`pools[1].cooldown: -1s is negative`,
		`pools[1].extensions[0]: from 9 is greater than to 1`,
		`pools[1].extensions[2]: "+18005550300" is already used by pools[1].extensions[1]`,
		`pools[1].exhaustion: unknown policy "panic"`,
		`pools[2].id: "a" is already used by pools[0]`,
		`pools[2]: pool has no numbers and no extensions`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if err := (&Config{}).Validate(); err == nil {
		t.Error("empty config accepted")
	}
	if good := onePool(3); good.Validate() != nil {
		err := good.Validate()
		t.Errorf("good config rejected: %v", err)
	}
}

func TestDigitsBefore(t *testing.T) {
	for _, c := range []struct{ n, want int64 }{{0, 0}, {1, 1}, {10, 10}, {11, 12}, {100, 190}, {1000, 2890}} {
		if got := digitsBefore(c.n); got != c.want {
			t.Errorf("digitsBefore(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func TestExampleYAML(t *testing.T) {
	b, err := os.ReadFile("testdata/numbers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Pools[0].Hold != 15*time.Second || cfg.Pools[0].Lease != 30*time.Minute || cfg.Blocklist.SpamExpiry != 168*time.Hour {
		t.Fatalf("durations %+v", cfg.Pools[0])
	}
	p := mustNew(t, cfg, nil)
	if p.Size() != 3+9999+2 {
		t.Fatalf("size %d", p.Size())
	}
	big := Config{Pools: []PoolConfig{{ID: "x", Extensions: []ExtensionRange{{Number: "+18005550100", From: 0, To: maxExt}}}}}
	if err := big.Validate(); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("a billion entries accepted: %v", err)
	}
}

// TestNumberOfRoundTrip: every entry of mixed pools (plain numbers and
// several extension ranges) maps to its number and back, in its pool.
func TestNumberOfRoundTrip(t *testing.T) {
	cfg := Config{Pools: []PoolConfig{
		{ID: "a", Numbers: []string{"+18005550001", "+18005550002"}},
		{ID: "b", Extensions: []ExtensionRange{{Number: "+18005550003", From: 7, To: 12}, {Number: "+18005550004", From: 0, To: 0},
			{Number: "+18005550003", From: 95, To: 105}}},
		{ID: "c", Numbers: []string{"+18005550005"}, Extensions: []ExtensionRange{{Number: "+18005550006", From: 1, To: 3}}},
	}}
	p := mustNew(t, cfg, nil)
	wantPool := []int32{0, 0}
	for range 6 + 1 + 11 {
		wantPool = append(wantPool, 1)
	}
	wantPool = append(wantPool, 2, 2, 2, 2)
	if len(p.entries) != len(wantPool) {
		t.Fatalf("%d entries, want %d", len(p.entries), len(wantPool))
	}
	for i := range p.entries {
		e164, ext := p.numberOf(int32(i))
		j, ok := p.entryOf([]byte(e164), []byte(ext))
		if !ok || j != int32(i) || p.poolIndex(int32(i)) != wantPool[i] {
			t.Fatalf("entry %d → %s;ext=%s → %d %v, pool %d want %d", i, e164, ext, j, ok, p.poolIndex(int32(i)), wantPool[i])
		}
	}
}
