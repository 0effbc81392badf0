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
	"title":            {"交叉执行监管看板", "Cross-execution supervision dashboard"},
	"scope.mesh":       {"全网（运营节点）", "whole mesh (operator node)"},
	"scope.court":      {"本院", "this court"},
	"generated":        {"生成时间", "Generated"},
	"as_of":            {"统计日", "As of"},
	"refresh":          {"每 10 秒自动刷新", "refreshes every 10 s"},
	"lang.switch":      {"English", "中文"},
	"mesh":             {"节点网络", "Mesh"},
	"mesh.online":      {"在线法院节点", "Court nodes online"},
	"mesh.province":    {"省份", "Province"},
	"mesh.by_province": {"按省份在线情况", "Online by province"},
	"mesh.total":       {"节点数", "Nodes"},
	"mesh.nodes":       {"各节点心跳", "Node heartbeats"},
	"col.online":       {"在线", "Online"},
	"legend.receiver":  {"受移送法院", "receiver"},
	"legend.origin":    {"原法院", "origin"},
	"court":            {"法院", "Court"},
	"court.code":       {"法院代码", "Code"},
	"last_heartbeat":   {"最近心跳", "Last heartbeat"},
	"status":           {"状态", "Status"},
	"online":           {"在线", "online"},
	"offline":          {"离线", "offline"},
	"flags":            {"问题", "Problems"},
	"never":            {"从未收到", "never"},
	"pipeline":         {"移送流程", "Transfer pipeline"},
	"pipeline.total":   {"移送总数", "Transfers"},
	"overdue":          {"逾期未接受", "Acceptances overdue"},
	"avg_accept":       {"决定至受理平均天数", "Mean days, decision to acceptance"},
	"avg_receipt":      {"决定至接收案卷平均天数", "Mean days, decision to receipt"},
	"samples":          {"样本", "samples"},
	"modes":            {"执行方式", "Cases by mode"},
	"courts":           {"各受移送法院指标", "Indicators by receiving court"},
	"designated":       {"指定", "Designated"},
	"accepted":         {"已受理", "Accepted"},
	"accepted_in_time": {"按期受理", "Accepted in time"},
	"received":         {"已接收", "Received"},
	"concluded":        {"已结案", "Concluded"},
	"recovered":        {"执行到位（执行款台账）", "Recovered (funds ledger)"},
	"origin_recovered": {"原法院已执行到位", "Recovered by origin"},
	"lapsed":           {"移送期间措施失效（目标 0）", "Measures lapsed during handover (target 0)"},
	"sanctions_lapsed": {"移送期间信用惩戒脱节（目标 0）", "Sanctions lapsed during handover (target 0)"},
	"chart.recovered":  {"执行到位对比", "Recovered vs origin"},
	"alerts":           {"告警", "Alerts"},
	"alerts.none":      {"当前没有告警。", "No alerts."},
	"severity":         {"级别", "Severity"},
	"kind":             {"类型", "Kind"},
	"since":            {"起始", "Since"},
	"message":          {"说明", "Message"},
	"transfer":         {"移送", "Transfer"},
	"none":             {"暂无数据", "No data yet"},
	"critical":         {"严重", "critical"},
	"warning":          {"警告", "warning"},
	"metadata_only":    {"本看板仅显示元数据，不含任何当事人信息。", "Metadata only: no party's personal data is shown."},

	"state.offered":     {"待决定", "Offered"},
	"state.decided":     {"待受理", "Decided"},
	"state.accepted":    {"待移交", "Accepted"},
	"state.handed_over": {"待接收", "Handed over"},
	"state.returned":    {"退回补正", "Returned for supplement"},
	"state.received":    {"执行中", "Received"},
	"state.closed":      {"已结案", "Closed"},
	"state.rejected":    {"已驳回", "Rejected"},
	"state.withdrawn":   {"已撤回", "Withdrawn"},

	"mode.指令执行": {"指令执行", "Designated (指令执行)"},
	"mode.提级执行": {"提级执行", "Elevated (提级执行)"},

	"alert.measure_expiring":     {"措施即将到期", "Measure near expiry"},
	"alert.acceptance_overdue":   {"逾期未受理", "Acceptance overdue"},
	"alert.node_silent":          {"节点无心跳", "Node silent"},
	"alert.node_revoked":         {"节点证书已吊销", "Node revoked"},
	"alert.bundle_expiring":      {"信任包即将到期", "Trust bundle near expiry"},
	"alert.audit_inconsistent":   {"审计日志不一致", "Audit log inconsistent"},
	"alert.disk_full":            {"数据盘空间不足", "Data disk full"},
	"flag.silent":                {"无心跳", "silent"},
	"flag.revoked":               {"已吊销", "revoked"},
	"flag.audit_rewound":         {"审计日志回退", "audit log rewound"},
	"flag.audit_forked":          {"审计日志分叉", "audit log forked"},
	"flag.bundle_behind":         {"信任包落后", "bundle behind"},
	"flag.audit_head_mismatched": {"审计日志不一致", "audit log mismatch"},
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
