package bench

import "testing"

func TestExpand(t *testing.T) {
	m := &Macros{AuctionID: "req-1", BidID: "b1", ImpID: "1", Price: "1.2345", Loss: "102", Currency: "USD"}
	f := func(in, want string) {
		t.Helper()
		if got := Expand(in, m); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
	f("http://h/win?p=${AUCTION_PRICE}&id=${AUCTION_ID}&imp=${AUCTION_IMP_ID}", "http://h/win?p=1.2345&id=req-1&imp=1")
	f("http://h/loss?r=${AUCTION_LOSS}&p=${AUCTION_PRICE}", "http://h/loss?r=102&p=1.2345")
	f("x=${AUCTION_SEAT_ID}y", "x=y")         // known, no data: empty
	f("x=${NOT_A_MACRO}", "x=${NOT_A_MACRO}") // unknown: left alone
	f("p=${AUCTION_PRICE:B64}", "p=MS4yMzQ1") // base64url
	f("no macros", "no macros")
	f("broken ${AUCTION_PRICE", "broken ${AUCTION_PRICE")
	f("${AUCTION_PRICE}${AUCTION_PRICE}", "1.23451.2345")
}

func TestPhoneFromAdm(t *testing.T) {
	f := func(adm, num, ext string, ok bool) {
		t.Helper()
		n, e, k := PhoneFromAdm(adm)
		if n != num || e != ext || k != ok {
			t.Errorf("PhoneFromAdm(%q) = %q %q %v, want %q %q %v", adm, n, e, k, num, ext, ok)
		}
	}
	f(`<a href="tel:+18005550123">Call +1 800 555 0123</a>`, "+18005550123", "", true)
	f(`<a href="tel:+18005550123;ext=042">call</a>`, "+18005550123", "042", true)
	f(`{"native":{"assets":[{"id":4,"data":{"value":"+14155550188"}}]}}`, "+14155550188", "", true)
	f(`{"native":{"assets":[{"id":4,"data":{"value":"+14155550188;ext=7"}}]}}`, "+14155550188", "7", true)
	f(`<a href="tel:555">x</a> no number`, "", "", false)
	f(`+1 800`, "", "", false)
	f(``, "", "", false)
}

func FuzzPhoneFromAdm(f *testing.F) {
	f.Add(`<a href="tel:+18005550123;ext=42">`)
	f.Add(`{"value":"+14155550188"}`)
	f.Add(`tel:+`)
	f.Fuzz(func(t *testing.T, adm string) {
		n, _, ok := PhoneFromAdm(adm)
		if ok && (len(n) < 9 || n[0] != '+') {
			t.Fatalf("bad number %q from %q", n, adm)
		}
	})
}

func FuzzExpand(f *testing.F) {
	f.Add("http://h/?p=${AUCTION_PRICE}&l=${AUCTION_LOSS:B64}")
	f.Add("${")
	f.Fuzz(func(t *testing.T, s string) {
		_ = Expand(s, &Macros{Price: "1"})
	})
}
