package party

import (
	"embed"
	"fmt"
	"html/template"

	"courtmesh.dev/courtmesh/court"
)

//go:embed web/page.tmpl web/party.css
var web embed.FS

// texts are the page's words, in Chinese (the default) and English.
var texts = map[string]map[string]string{
	"zh": {
		"htmllang": "zh-CN", "other": "en", "otherlang": "en", "othername": "English", "language": "语言",
		"title": "执行案件当事人查询", "signin": "当事人登录", "signout": "退出",
		"signinhelp": "请输入案号、立案时法院告知的查询码，以及您身份证件号码的后4位。",
		"casenumber": "案号", "querycode": "查询码", "last4": "证件号码后4位", "signinbutton": "查询",
		"badsignin": "案号、查询码或证件号码后4位不正确。",
		"locked":    "尝试次数过多，请稍后再试。",
		"expired":   "登录已过期，请重新登录。",
		"where":     "案件现在何处", "moved": "本案已移交其他法院执行。", "courtnow": "执行法院", "numbernow": "现案号",
		"from": "原执行法院", "oldnumber": "原案号", "contact": "联系电话", "you": "您",
		"role_applicant": "申请执行人", "role_respondent": "被执行人",
		"stages": "办理进度", "stage_filed": "立案", "stage_offered": "报请交叉执行", "stage_decided": "上级法院决定",
		"stage_accepted": "受移送法院立案受理", "stage_handed_over": "移交案卷", "stage_received": "接收案卷", "stage_concluded": "结案",
		"deadlines": "期限", "deadline_accept_by": "受移送法院应于此日前受理", "deadline_file_by": "应于此日前完成接收",
		"deadline_conclude_by": "有财产案件应于此日前执结",
		"progress":             "执行情况", "claim": "申请执行标的", "recovered": "已执行到位金额", "status": "进展",
		"complaints": "投诉", "nocomplaints": "尚无投诉。", "ref": "投诉编号", "category": "投诉类别", "supervisor": "受理法院",
		"filed": "提交日期", "answerby": "答复期限", "state": "状态", "answered": "已答复", "waiting": "待答复", "overdue": "已逾期未答复",
		"about": "投诉对象", "text": "投诉内容（2000字以内）", "file": "提交投诉",
		"acked":           "投诉已受理，编号：",
		"cat_no_progress": "长期无进展", "cat_missed_deadline": "超过期限", "cat_lapsed_measure": "查控措施失效", "cat_conduct": "工作作风", "cat_other": "其他",
		"hotline": "全国法院诉讼服务热线 12368",
	},
	"en": {
		"htmllang": "en", "other": "zh", "otherlang": "zh-CN", "othername": "中文", "language": "Language",
		"title": "Enforcement case: party enquiry", "signin": "Sign in", "signout": "Sign out",
		"signinhelp": "Enter the case number, the query code the court gave you at filing, and the last 4 characters of your ID number.",
		"casenumber": "Case number", "querycode": "Query code", "last4": "Last 4 characters of your ID number", "signinbutton": "Look up",
		"badsignin": "The case number, query code or ID characters are not correct.",
		"locked":    "Too many tries. Please try again later.",
		"expired":   "Your session has expired. Please sign in again.",
		"where":     "Where your case is", "moved": "Your case was moved to another court for enforcement.", "courtnow": "Court handling it", "numbernow": "Case number now",
		"from": "Moved from", "oldnumber": "Former case number", "contact": "Contact", "you": "You",
		"role_applicant": "Applicant", "role_respondent": "Respondent",
		"stages": "Progress of the case", "stage_filed": "Filed", "stage_offered": "Proposed for transfer", "stage_decided": "Decided by the superior court",
		"stage_accepted": "Accepted by the receiving court", "stage_handed_over": "Dossier handed over", "stage_received": "Dossier received", "stage_concluded": "Concluded",
		"deadlines": "Deadlines", "deadline_accept_by": "Receiving court to accept by", "deadline_file_by": "Dossier to be received by",
		"deadline_conclude_by": "A case with assets to be concluded by",
		"progress":             "Enforcement", "claim": "Amount claimed", "recovered": "Amount recovered", "status": "Status",
		"complaints": "Complaints", "nocomplaints": "No complaints yet.", "ref": "Reference", "category": "Category", "supervisor": "Handled by",
		"filed": "Filed", "answerby": "Answer due", "state": "State", "answered": "Answered", "waiting": "Waiting for an answer", "overdue": "Overdue",
		"about": "About", "text": "Your complaint (up to 2,000 characters)", "file": "File the complaint",
		"acked":           "Your complaint was received. Reference:",
		"cat_no_progress": "No progress", "cat_missed_deadline": "Missed deadline", "cat_lapsed_measure": "A measure lapsed", "cat_conduct": "Conduct", "cat_other": "Other",
		"hotline": "Courts' national service hotline 12368",
	},
}

// yuan formats fen as yuan with two decimals and thousands separators.
func yuan(fen int64) string {
	neg := fen < 0
	if neg {
		fen = -fen
	}
	s := fmt.Sprintf("%d", fen/100)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	out := fmt.Sprintf("¥%s.%02d", s, fen%100)
	if neg {
		out = "-" + out
	}
	return out
}

func (p *Portal) templates() (*template.Template, error) {
	return template.New("party").Funcs(template.FuncMap{
		"yuan":      yuan,
		"courtname": func(c court.CourtCode) string { return p.svc.courtInfo(c).Name },
	}).ParseFS(web, "web/page.tmpl")
}
