package dashboard

import "strings"

// The page languages.
const (
	LangZH = "zh" // the default
	LangEN = "en"
)

// messages holds the page's words; every key has both languages (a test
// checks).
var messages = map[string][2]string{
	"title":               {"交叉执行监管看板", "Cross-execution supervision dashboard"},
	"juris":               {"辖区法院（下级法院的移送、期限与指标）", "Jurisdiction: the courts under this one"},
	"juris.courts":        {"法院数", "Courts"},
	"juris.total":         {"涉及移送", "Transfers"},
	"juris.overdue":       {"逾期", "Overdue"},
	"juris.filed":         {"受理（作为受移送法院）", "Filed (as receiver)"},
	"ind.done":            {"执行完毕率", "Fully enforced"},
	"ind.recovery":        {"执行到位率", "Recovery rate"},
	"ind.terminated":      {"终本率", "Terminated (终本)"},
	"ind.resumption":      {"恢复执行率", "Resumed (执恢)"},
	"ind.within6":         {"6 个月内结案", "Closed within 6 months"},
	"ind.days":            {"平均结案天数", "Mean days to conclusion"},
	"ind.trace":           {"点击法院查看计数（分子/分母）", "click a court for the counts behind each figure"},
	"trend.title":         {"主要指标月度趋势（按受理月份，依签名记录计算）", "Monthly trend of the main indicators (by month of filing, from the signed records)"},
	"trend.chart":         {"受理、结案与执行到位率", "Filed, closed and recovery rate"},
	"trend.month":         {"月份", "Month"},
	"trend.filed":         {"受理", "Filed"},
	"trend.closed":        {"结案", "Closed"},
	"complaints":          {"当事人投诉（本院监督）", "Parties' complaints (supervised here)"},
	"complaints.total":    {"投诉", "Complaints"},
	"complaints.answered": {"已答复", "Answered"},
	"complaints.in_time":  {"按期答复", "Answered in time"},
	"complaints.overdue":  {"逾期未答复", "Overdue"},
	"checkbacks":          {"待倒查", "Flagged for check-back (倒查)"},
	"scope.mesh":          {"全网（运营节点）", "whole mesh (operator node)"},
	"scope.court":         {"本院", "this court"},
	"generated":           {"生成时间", "Generated"},
	"as_of":               {"统计日", "As of"},
	"refresh":             {"每 10 秒自动刷新", "refreshes every 10 s"},
	"lang.switch":         {"English", "中文"},
	"mesh":                {"节点网络", "Mesh"},
	"mesh.online":         {"在线法院节点", "Court nodes online"},
	"mesh.province":       {"省份", "Province"},
	"mesh.by_province":    {"按省份在线情况", "Online by province"},
	"mesh.total":          {"节点数", "Nodes"},
	"mesh.nodes":          {"各节点心跳", "Node heartbeats"},
	"col.online":          {"在线", "Online"},
	"legend.receiver":     {"受移送法院", "receiver"},
	"legend.origin":       {"原执行法院", "origin"},
	"court":               {"法院", "Court"},
	"court.code":          {"法院代码", "Code"},
	"last_heartbeat":      {"最近心跳", "Last heartbeat"},
	"status":              {"状态", "Status"},
	"online":              {"在线", "online"},
	"offline":             {"离线", "offline"},
	"flags":               {"问题", "Problems"},
	"never":               {"从未收到", "never"},
	"pipeline":            {"移送流程", "Transfer pipeline"},
	"pipeline.total":      {"移送总数", "Transfers"},
	"overdue":             {"逾期未接受", "Acceptances overdue"},
	"avg_accept":          {"决定至受理平均天数", "Mean days, decision to acceptance"},
	"avg_receipt":         {"决定至接收案卷平均天数", "Mean days, decision to receipt"},
	"samples":             {"样本", "samples"},
	"modes":               {"执行方式", "Cases by mode"},
	"courts":              {"各受移送法院指标", "Indicators by receiving court"},
	"designated":          {"指定", "Designated"},
	"accepted":            {"已受理", "Accepted"},
	"accepted_in_time":    {"按期受理", "Accepted in time"},
	"received":            {"已接收", "Received"},
	"concluded":           {"已结案", "Concluded"},
	"recovered":           {"执行到位（执行款台账）", "Recovered (funds ledger)"},
	"origin_recovered":    {"原执行法院已执行到位", "Recovered by origin"},
	"lapsed":              {"移送期间措施失效（目标 0）", "Measures lapsed during handover (target 0)"},
	"sanctions_lapsed":    {"移送期间信用惩戒脱节（目标 0）", "Sanctions lapsed during handover (target 0)"},
	"chart.recovered":     {"执行到位对比", "Recovered vs origin"},
	"alerts":              {"告警", "Alerts"},
	"alerts.none":         {"当前没有告警。", "No alerts."},
	"severity":            {"级别", "Severity"},
	"kind":                {"类型", "Kind"},
	"since":               {"起始", "Since"},
	"message":             {"说明", "Message"},
	"transfer":            {"移送", "Transfer"},
	"none":                {"暂无数据", "No data yet"},
	"critical":            {"严重", "critical"},
	"warning":             {"警告", "warning"},
	"metadata_only":       {"本看板仅显示元数据，不含任何当事人信息。", "Metadata only: no party's personal data is shown."},

	"state.offered":              {"待决定", "Offered"},
	"state.decided":              {"待受理", "Decided"},
	"state.accepted":             {"待移交", "Accepted"},
	"state.handed_over":          {"待接收", "Handed over"},
	"state.returned":             {"退回补正", "Returned for supplement"},
	"state.received":             {"执行中", "Received"},
	"state.closed":               {"已结案", "Closed"},
	"state.rejected":             {"已驳回", "Rejected"},
	"state.withdrawn":            {"已撤回", "Withdrawn"},
	"state.refused":              {"拒收待上级决定", "Refused: awaiting the superior's ruling"},
	"state.supervised":           {"督促执行中", "Under supervision (督促执行)"},
	"state.assistance_requested": {"待答复协同请求", "Assistance requested"},
	"state.assisting":            {"协同执行中", "Assisting (协同执行)"},

	"mode.指令执行": {"指令执行", "Designated (指令执行)"},
	"mode.提级执行": {"提级执行", "Elevated (提级执行)"},
	"mode.集中执行": {"集中执行", "Gathered (集中执行)"},
	"mode.督促执行": {"督促执行", "Supervised (督促执行)"},
	"mode.协同执行": {"协同执行", "Assisted (协同执行)"},

	"alert.measure_expiring":       {"措施即将到期", "Measure near expiry"},
	"alert.check_back":             {"倒查", "Check back on the origin"},
	"alert.decision_overdue":       {"逾期未答复申请", "Answer to the applicant's request overdue"},
	"alert.acceptance_overdue":     {"逾期未受理", "Acceptance overdue"},
	"alert.handover_overdue":       {"逾期未移交卷宗", "Handover overdue"},
	"alert.filing_overdue":         {"逾期未接收立案", "Receipt and filing overdue"},
	"alert.supplement_overdue":     {"逾期未补正材料", "Supplement of a returned handover overdue"},
	"alert.enforcement_overdue":    {"财产调查或结案逾期", "Investigation or conclusion overdue"},
	"alert.supervision_overdue":    {"督促执行逾期", "Supervised enforcement overdue"},
	"alert.refusal_ruling_overdue": {"拒收逾期未决定", "Ruling on a refusal overdue"},
	"alert.assistance_overdue":     {"协同执行逾期", "Assistance overdue"},
	"alert.node_silent":            {"节点无心跳", "Node silent"},
	"alert.node_revoked":           {"节点证书已吊销", "Node revoked"},
	"alert.bundle_expiring":        {"信任包即将到期", "Trust bundle near expiry"},
	"alert.audit_inconsistent":     {"审计日志不一致", "Audit log inconsistent"},
	"alert.disk_full":              {"数据盘空间不足", "Data disk full"},
	"flag.silent":                  {"无心跳", "silent"},
	"flag.revoked":                 {"已吊销", "revoked"},
	"flag.audit_rewound":           {"审计日志回退", "audit log rewound"},
	"flag.audit_forked":            {"审计日志分叉", "audit log forked"},
	"flag.bundle_behind":           {"信任包落后", "bundle behind"},
	"flag.audit_head_mismatched":   {"审计日志不一致", "audit log mismatch"},

	"trends":             {"趋势（按决定法院，近 12 个月）", "Trends (by deciding court, last 12 months)"},
	"trends.month":       {"月份", "Month"},
	"trends.of":          {"查看决定法院", "Deciding court shown"},
	"trends.recovery":    {"各受移送法院执行到位（全部已结案件）", "Recovery by receiving court (all closed cases)"},
	"trends.claimed":     {"移送时未执行金额", "Outstanding at transfer"},
	"trends.rate":        {"到位率", "Rate"},
	"trends.load":        {"各受移送法院月末在办移送案件", "Open transferred cases at month end, by receiving court"},
	"outcome.concluded":  {"执行完毕", "Concluded"},
	"outcome.terminated": {"终本", "Terminated (终本)"},
	"outcome.settled":    {"和解", "Settled"},
	"outcome.ended":      {"终结/不予执行/驳回", "Ended (终结, 不予执行, 驳回)"},
	"outcome.rejected":   {"驳回", "Rejected"},
	"outcome.withdrawn":  {"撤回", "Withdrawn"},

	"decide.title":    {"受理法院推荐", "Which court should take the case"},
	"decide.case":     {"案件", "Case"},
	"decide.origin":   {"原执行法院", "Origin"},
	"decide.superior": {"决定法院", "Deciding court"},
	"decide.state":    {"状态", "State"},
	"decide.assets":   {"财产分布（行政区划代码）", "Where the assets are (division codes)"},
	"decide.region":   {"区划代码", "Region"},
	"decide.class":    {"财产类别", "Class"},
	// Asset classes (court.AssetClass), the Chinese words court's labels.
	"class.deposit":        {"银行存款", "Bank deposit"},
	"class.real_estate":    {"不动产", "Real estate"},
	"class.vehicle":        {"车辆", "Vehicle"},
	"class.vessel":         {"船舶", "Vessel"},
	"class.securities":     {"证券", "Securities"},
	"class.equity":         {"股权", "Equity"},
	"class.online_payment": {"网络支付账户", "Online payment account"},
	"class.receivable":     {"应收账款", "Receivable"},
	"class.ip":             {"知识产权", "Intellectual property"},
	"class.other":          {"其他", "Other"},
	"decide.count":         {"数量", "Count"},
	"decide.band":          {"价值区间（元）", "Value band (yuan)"},
	"decide.debtor":        {"被执行人住所地", "Debtor's domicile"},
	"decide.unknown":       {"未知", "unknown"},
	"decide.ranking":       {"候选法院排序", "Candidate courts, ranked"},
	"decide.rank":          {"名次", "Rank"},
	"decide.score":         {"得分", "Score"},
	"decide.share":         {"财产份额 本区/本市", "Asset share district/city"},
	"decide.distance":      {"距离 原执行法院/住所地", "Distance origin/debtor"},
	"decide.load":          {"在办/逾期", "Open/overdue"},
	"decide.track":         {"按期受理/6个月结案/到位率", "In time/concluded 6m/recovery"},
	"decide.lapsed":        {"措施失效", "Lapsed"},
	"decide.cases":         {"以往受理", "Past cases"},
	"decide.points":        {"分项得分 财产/近地/负担/表现/失效", "Points assets/near/load/track/lapse"},
	"decide.eligible":      {"可指定", "Eligible"},
	"decide.yes":           {"是", "yes"},
	"decide.hash":          {"推荐输入摘要", "Inputs hash"},
	"decide.how":           {"决定时注明此摘要，决定记录将载明所选法院的名次：", "Decide naming this hash; the decision records the chosen court's rank:"},
	"decide.noted":         {"决定已载明：所选法院在推荐中的名次", "The decision notes the chosen court's rank in the recommendation:"},
	"decide.weights":       {"权重（配置 [recommend]）", "Weights (config [recommend])"},
	"decide.explain":       {"得分为各分项得分之和：财产份额×财产权重；与原执行法院、被执行人住所地同市各扣近地权重；负担按 n/(n+半值) 扣分；以往表现（按期受理率、6个月内结案率、执行到位率，向中性值平滑）相对中性值的增减×表现权重；移送期间措施失效按 n/(n+1) 扣分。原执行法院及被执行人住所地所在区县的法院不予指定（指令执行）。", "The score is the sum of the points: asset share × the assets weight; the near weight taken once for the same city as the origin and once for the debtor's; load taken as n/(n+half); track record (acceptances in time, concluded within 6 months, recovery, each smoothed towards a neutral prior) against the prior × the track weight; measures lapsed during handover taken as n/(n+1). A court in the origin's or the debtor's own district is not designated (指令执行)."},
	"decide.distance_key":  {"距离：0 同区县，1 同市，2 同省，3 更远或未知", "Distance: 0 same district, 1 same city, 2 same province, 3 further or unknown"},

	// The codes of advice.Exclusion.
	"excluded.origin":          {"原执行法院", "the origin court"},
	"excluded.decider":         {"决定法院本身（应为提级执行）", "the deciding court (that is 提级执行, not 指令执行)"},
	"excluded.configured":      {"配置中排除", "excluded in the configuration"},
	"excluded.origin_district": {"位于原执行法院所在区县", "in the origin's district"},
	"excluded.debtor_district": {"位于被执行人住所地区县", "in the debtor's district"},
}

// translate returns the word for key in lang; an unknown key is shown as
// its last dotted part, so a new alert kind or flag still shows.
func translate(lang, key string) string {
	m, ok := messages[key]
	if !ok {
		if i := strings.LastIndexByte(key, '.'); i >= 0 {
			return key[i+1:]
		}
		return key
	}
	if lang == LangEN {
		return m[1]
	}
	return m[0]
}

// messageIn picks one language out of a bilingual alert message written
// "中文 / English"; a message without the separator is shown whole.
func messageIn(lang, msg string) string {
	zh, en, ok := strings.Cut(msg, " / ")
	if !ok {
		return msg
	}
	if lang == LangEN {
		return strings.TrimSpace(en)
	}
	return strings.TrimSpace(zh)
}
