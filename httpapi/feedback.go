package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"

	"github.com/callbid/callbid/hitrate"
	"github.com/callbid/callbid/pacing"
	"github.com/callbid/callbid/reports"
)

// ReportRoute answers GET /v1/report from the reports package: ?from=&to=
// (RFC3339, hour resolution), ?group_by=campaign|publisher|exchange|hour|channel
// (default campaign), ?format=json|csv (default json). A bad query is a 400
// with the reason.
func ReportRoute(r *reports.Reports) Report {
	return func(q url.Values) (string, []byte, error) {
		query, csv, err := reports.ParseQuery(q.Get("from"), q.Get("to"), q.Get("group_by"), q.Get("format"))
		if err != nil {
			return "", nil, err
		}
		v, err := r.Report(query)
		if err != nil {
			return "", nil, err
		}
		var b bytes.Buffer
		if csv {
			if err := v.WriteCSV(&b); err != nil {
				return "", nil, errors.New("cannot encode the report")
			}
			return "text/csv; charset=utf-8", b.Bytes(), nil
		}
		if err := v.WriteJSON(&b); err != nil {
			return "", nil, errors.New("cannot encode the report")
		}
		return "application/json", b.Bytes(), nil
	}
}

// RatesRoute answers GET /admin/rates: per skill the participation level,
// budget, refill and calls in flight (pacing); per campaign × publisher the
// learned rates, their evidence and the factor applied (hitrate); per
// exchange the win probability; per campaign × exchange the learned
// calls-per-win factor (hitrate). ?campaign= filters the publishers and
// the exchange factors.
func RatesRoute(h *hitrate.HitRates, p *pacing.Pacer) Report {
	return func(q url.Values) (string, []byte, error) {
		pv := p.View()
		hv := h.Rates(hitrate.RatesQuery{Campaign: q.Get("campaign")})
		v := struct {
			Skills     []pacing.SkillParticipation `json:"skills"`
			Publishers []hitrate.PublisherRate     `json:"publishers"`
			Exchanges  []pacing.ExchangeWin        `json:"exchanges"`
			Factors    []hitrate.ExchangeRate      `json:"exchange_factors"`
		}{pv.Skills, hv.Publishers, pv.Exchanges, hv.Exchanges}
		b, err := json.MarshalIndent(&v, "", "  ")
		if err != nil {
			return "", nil, errors.New("cannot encode the rates")
		}
		return "application/json", append(b, '\n'), nil
	}
}
