package e2e

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wattlens/wattlens/internal/exporter/web"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// webAxisJS returns the chart's y-axis labels and, for each, the value its
// gridline stands for: the top label's value scaled by the line's height
// above the bottom one. The labels sit 4 px below their line.
const webAxisJS = `(() => {
  const lines = Array.from(document.querySelectorAll('#chart line.grid')).map(l => Number(l.getAttribute('y1')));
  const labels = Array.from(document.querySelectorAll('#chart text.axis')).filter(e => / W$/.test(e.textContent));
  const bottom = Math.max(...lines), top = Math.min(...lines);
  const topLabel = labels.find(e => Math.abs(Number(e.getAttribute('y')) - 4 - top) < 0.01);
  const topValue = topLabel ? parseFloat(topLabel.textContent) : NaN;
  return JSON.stringify(labels.map(e => {
    const y = Number(e.getAttribute('y')) - 4;
    return {text: e.textContent, line: lines.some(l => Math.abs(l - y) < 0.01), value: topValue * (bottom - y) / (bottom - top)};
  }));
})()`

// TestWebChartAxisLabels: every y-axis label of the live page's chart
// says the power of its gridline (a scale topping at 10 W has lines at
// 2.5 and 7.5 W, which were labelled "3 W" and "8 W"), at scales that need
// no, one and two decimals.
func TestWebChartAxisLabels(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	chromium := webChromium(t)
	b := webStartBrowser(t, chromium, 2*time.Minute)
	for _, watts := range []float64{8.5, 0.9, 5, 35} { // scales 10, 1, 6 and 40 W
		t.Run(strconv.FormatFloat(watts, 'g', -1, 64)+"W", func(t *testing.T) {
			hub := web.New(web.Options{})
			h, err := hub.Handler()
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			t.Cleanup(hub.Close) // before srv.Close, which waits for the stream
			delta := units.FromJoules(2 * watts)
			for seq := uint64(1); seq <= 3; seq++ {
				host := snapshot.Energy{Total: units.Energy(seq) * delta, Delta: delta, Power: units.PowerOf(delta, 2*time.Second), Source: power.Measured}
				s := &snapshot.Snapshot{
					Seq: seq, Time: time.Now().Add(time.Duration(seq-3) * 2 * time.Second), Interval: 2 * time.Second,
					Sensor: "powercap_rapl", SensorUp: true, Host: host, CPUs: 4,
					Zones: []snapshot.Zone{{ID: "intel-rapl:0", Kind: power.KindPackage, Name: "package-0", Energy: host}},
				}
				if err := hub.Export(context.Background(), s); err != nil {
					t.Fatal(err)
				}
			}
			if err := chromedp.Do(b.ctx,
				chromedp.Navigate(srv.URL+"/"),
				chromedp.WaitVisible(chromedp.CSS(`#host-power[data-seq="3"]`)),
			); err != nil {
				t.Fatalf("loading the page: %v", err)
			}
			raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](webAxisJS))
			if err != nil {
				t.Fatal(err)
			}
			var labels []struct {
				Text  string  `json:"text"`
				Line  bool    `json:"line"`
				Value float64 `json:"value"`
			}
			if err := json.Unmarshal([]byte(raw), &labels); err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if len(labels) != 5 {
				t.Fatalf("%d y-axis labels, want 5: %s", len(labels), raw)
			}
			var texts []string
			for _, l := range labels {
				texts = append(texts, l.Text)
				got, err := strconv.ParseFloat(strings.TrimSuffix(l.Text, " W"), 64)
				if err != nil || !l.Line || math.Abs(got-l.Value) > 1e-6*math.Max(1, l.Value) {
					t.Errorf("label %q stands beside a gridline of %.4g W (on a line: %v)", l.Text, l.Value, l.Line)
				}
			}
			t.Logf("%.1f W: y-axis %s", watts, strings.Join(texts, ", "))
		})
	}
	errs, _ := b.seen()
	for _, e := range errs {
		t.Errorf("browser: %s", e)
	}
}
