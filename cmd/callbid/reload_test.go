package main

import (
	"slices"
	"testing"

	"github.com/callbid/callbid/bidder"
)

func TestDiffCampaigns(t *testing.T) {
	old := []bidder.CampaignConfig{{ID: "keep"}, {ID: "edit", MaxCPM: 1}, {ID: "gone"}}
	cur := []bidder.CampaignConfig{{ID: "edit", MaxCPM: 2}, {ID: "keep"}, {ID: "new"}}
	d := diffCampaigns(old, cur)
	if !slices.Equal(d.added, []string{"new"}) || !slices.Equal(d.removed, []string{"gone"}) || !slices.Equal(d.changed, []string{"edit"}) {
		t.Errorf("diff = %+v", d)
	}
	if got := d.String(); got != "campaigns added new; removed gone; changed edit" {
		t.Errorf("String() = %q", got)
	}
	if got := diffCampaigns(old, old).String(); got != "no campaign changed" {
		t.Errorf("no change: %q", got)
	}
}
