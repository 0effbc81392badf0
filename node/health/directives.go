package health

import (
	"fmt"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
)

// directiveAlerts raises, at the directed court and at the court that
// issued them, one alert counting the directives (督办) left unanswered
// past their due day. It reads the sums the store keeps per due day
// (dashboard.Contribution), never a transfer.
func (s *Service) directiveAlerts(now time.Time) []api.Alert {
	self, err := s.self()
	if err != nil {
		return nil
	}
	sums, err := s.d.Store.TransferStats("")
	if err != nil {
		s.log.Warn("alerts: could not read the directive sums", "reason", err)
		return nil
	}
	to, by := dashboard.OverdueDirectives(sums, self.Code, court.DateOf(now))
	var out []api.Alert
	if to > 0 {
		out = append(out, api.Alert{Kind: "directive_overdue", Severity: "warning", Court: string(self.Code),
			Message: fmt.Sprintf("上级法院督办 %d 件逾期未报告，请在移送记录中报告办理情况 / %d directives to %s are past due without a report: answer them (POST /v1/transfers/{id}/directives/{directive}/report)", to, to, self.Code)})
	}
	if by > 0 {
		out = append(out, api.Alert{Kind: "directive_overdue", Severity: "warning", Court: string(self.Code),
			Message: fmt.Sprintf("本院督办 %d 件逾期未获报告 / %d directives %s issued are past due without a report", by, by, self.Code)})
	}
	return out
}
