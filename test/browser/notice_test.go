package browser_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"courtmesh.dev/courtmesh/node/funds"
)

// requireTool finds a program the test needs, or skips (fails under
// COURTMESH_REQUIRE_BROWSER, as CI sets it).
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("COURTMESH_REQUIRE_BROWSER") != "" {
			t.Fatalf("COURTMESH_REQUIRE_BROWSER is set but %s is missing (apt-get install %s)", name, pkg)
		}
		t.Skipf("%s is missing: install the Debian package %s to run this test", name, pkg)
	}
	return p
}

// TestNoticeRendersAsPDF prints the built-in 协助执行通知书 with headless
// Chromium to an A4 PDF (kept in the artifacts as assist-notice.pdf),
// reads its text back with pdftotext and checks it: one page, the CJK
// font embedded, the receiving court, the new case number and the asset
// present, and nothing but what NoticeData carries (no party).
func TestNoticeRendersAsPDF(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("COURTMESH_REQUIRE_BROWSER") != "" {
			t.Fatal("COURTMESH_REQUIRE_BROWSER is set but no chromium binary was found")
		}
		t.Skip("no chromium binary found: install the Debian package chromium (or set COURTMESH_CHROMIUM)")
	}
	pdftotext := requireTool(t, "pdftotext", "poppler-utils")
	pdfinfo := requireTool(t, "pdfinfo", "poppler-utils")
	pdffonts := requireTool(t, "pdffonts", "poppler-utils")

	d := funds.NoticeData{
		CourtName: "北京市海淀区人民法院", OriginName: "北京市朝阳区人民法院",
		NewCase: "（2026）京0108执501号", OldCase: "（2025）京0105执123号", Mode: "指令执行",
		BodyLabel: funds.BodyLabels["bank"], AssetClass: "银行存款", Asset: "某某银行股份有限公司北京分行活期存款",
		Account: "9999000123456789", Measure: "m1", MeasureKind: "冻结", Expiry: "2026-12-31", Date: "2026-03-20",
	}
	html, err := funds.RenderNotice(funds.DefaultNoticeTemplate(), d)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "notice.html")
	if err := os.WriteFile(src, html, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.Flag("lang", "zh-CN"), chromedp.Flag("disable-gpu", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+src), chromedp.WaitReady("h1")); err != nil {
		t.Fatal(err)
	}
	yes := true
	pdf, err := chromedp.Run(bctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		res, err := cdp.Call(ctx, tg, page.PrintToPDF, page.PrintToPDFParams{PreferCSSPageSize: &yes, PrintBackground: &yes})
		return res.Data, err
	})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(artifactsDir(t), "assist-notice.pdf")
	if err := os.WriteFile(out, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("notice printed to %s (%d bytes)", out, len(pdf))

	info, err := exec.Command(pdfinfo, out).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Pages:\s+1$`).Match(info) {
		t.Errorf("the notice is not one page:\n%s", info)
	}
	if m := regexp.MustCompile(`(?m)^Page size:\s+([\d.]+) x ([\d.]+) pts`).FindSubmatch(info); m == nil || !near(string(m[1]), 595.3) || !near(string(m[2]), 841.9) {
		t.Errorf("the notice is not A4 (595 x 842 pt):\n%s", info)
	}
	fonts, err := exec.Command(pdffonts, out).Output()
	if err != nil {
		t.Fatal(err)
	}
	// Every font is embedded (Chromium embeds the CJK glyphs it used; the
	// text read back below shows they map to the right characters).
	embedded, total := 0, 0
	for _, line := range strings.Split(string(fonts), "\n")[2:] {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		total++
		if f[len(f)-5] == "yes" {
			embedded++
		}
	}
	if total == 0 || embedded != total {
		t.Errorf("%d of %d fonts embedded:\n%s", embedded, total, fonts)
	}
	txt, err := exec.Command(pdftotext, "-layout", out, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(txt)), "")
	for _, want := range []string{"协助执行通知书", d.CourtName, d.NewCase, d.OldCase, d.Asset, d.Account, "2026-12-31"} {
		if !strings.Contains(text, strings.Join(strings.Fields(want), "")) {
			t.Errorf("the printed notice does not read %q; it reads:\n%s", want, txt)
		}
	}
	// What the template could show beyond NoticeData: nothing of a party.
	for _, never := range []string{"张某", "申请执行人", "被执行人"} {
		if strings.Contains(text, never) {
			t.Errorf("the printed notice reads %q", never)
		}
	}
}

// near reports whether the number s is within 1 of want.
func near(s string, want float64) bool {
	v, err := strconv.ParseFloat(s, 64)
	return err == nil && v > want-1 && v < want+1
}
