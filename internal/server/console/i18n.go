package console

import (
	"strings"
)

// Languages the console speaks; the first is the default.
var languages = []string{"en", "zh-CN"}

// pickLang is the rule for a page's language: an explicit choice (the
// ?lang= of the language switch), then the cookie that remembers it, then
// the browser's Accept-Language (its first tag that we speak, q-values
// ignored beyond order), then English.
func pickLang(query, cookie, acceptLanguage string) string {
	for _, c := range []string{query, cookie} {
		if l, ok := known(c); ok {
			return l
		}
	}
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l, ok := known(tag); ok {
			return l
		}
	}
	return languages[0]
}

// known maps a language tag to one we speak: zh, zh-CN, zh-Hans… are
// zh-CN; en-GB is en.
func known(tag string) (string, bool) {
	primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
	switch primary {
	case "en":
		return "en", true
	case "zh":
		return "zh-CN", true
	}
	return "", false
}

// messages holds every string of the pages, by key, in each language.
// TestMessagesComplete checks that both languages have every key.
var messages = map[string]map[string]string{
	"en": {
		"title":             "bindpay console",
		"signin":            "Sign in",
		"signin.who":        "Your name (recorded with each action)",
		"signin.token":      "Admin token",
		"signin.bad":        "That token is not the admin token. Ask whoever runs the platform for admin.token_file.",
		"signin.needwho":    "Give your name: it goes into the audit log with every action.",
		"signin.slow":       "Too many wrong tokens from here: wait five minutes, then try again.",
		"signout":           "Sign out",
		"signedin":          "Signed in as",
		"search":            "Find a terminal",
		"search.hint":       "Terminal ID, full number (13800138000) or masked number (138****8000)",
		"search.go":         "Find",
		"search.none":       "No terminal matches",
		"search.many":       "Several terminals match",
		"search.nonumbers":  "Finding by number is not available on this platform build: search by terminal ID.",
		"enrol":             "Enrol terminals",
		"enrol.file":        "CSV file (terminal_id,key_version,sim_msisdn; header optional)",
		"enrol.go":          "Enrol",
		"enrol.bad":         "Nothing was enrolled: fix these rows and upload the file again.",
		"enrol.ok":          "Enrolled",
		"enrol.line":        "Line",
		"enrol.problem":     "Problem",
		"enrol.counts":      "new: %d, updated: %d, unchanged: %d",
		"enrol.nofile":      "Choose a CSV file to upload.",
		"terminal":          "Terminal",
		"state":             "State",
		"state.bound":       "bound",
		"state.unbound":     "not bound",
		"number":            "Bound number",
		"sim":               "SIM number",
		"boundat":           "Bound at",
		"enrolledat":        "Enrolled at",
		"keyversion":        "Key version",
		"timeline":          "Timeline",
		"at":                "Time",
		"actor":             "Who",
		"event":             "What",
		"detail":            "Detail",
		"activations":       "Activations",
		"messages":          "Messages sent (MT)",
		"kind":              "Kind",
		"to":                "To",
		"parts":             "Parts (receipts)",
		"attempts":          "Attempts",
		"lasterror":         "Last error",
		"id":                "ID",
		"reason":            "Reason",
		"reason.hint":       "Why (the caller's words, the ticket number): recorded in the audit log",
		"reason.needed":     "Give a reason: it is recorded in the audit log.",
		"actions":           "Actions",
		"action.resend":     "Resend the confirmation",
		"action.unbind":     "Unbind",
		"action.cancel":     "Cancel the pending activation",
		"confirm":           "Confirm",
		"confirm.q.resend":  "Send the confirmation SMS to terminal %s again?",
		"confirm.q.unbind":  "Remove the binding of terminal %s to %s? The terminal asks for activation again at its next query.",
		"confirm.q.cancel":  "Cancel activation %s of terminal %s?",
		"back":              "Back",
		"done.resend":       "The confirmation is queued.",
		"done.unbind":       "The terminal is unbound.",
		"done.cancel":       "The activation is cancelled.",
		"err.notbound":      "The terminal is not bound: there is nothing to resend or unbind.",
		"err.nosim":         "No SIM number is known for this terminal: enrol it with its sim_msisdn.",
		"err.notpending":    "The activation is no longer pending.",
		"err.conflict":      "The terminal changed since you looked: check it again, then retry.",
		"err.store":         "The store failed; see the platform's log and retry.",
		"err.notfound":      "No such terminal.",
		"none":              "none",
		"lang":              "中文",
		"forbidden.title":   "Refused",
		"forbidden.csrf":    "This form has expired or did not come from the console. Go back, reload the page and try again.",
		"unauthorized.body": "Sign in first.",
	},
	"zh-CN": {
		"title":             "号码绑定支付 控制台",
		"signin":            "登录",
		"signin.who":        "您的姓名（随每个操作记录）",
		"signin.token":      "管理令牌",
		"signin.bad":        "令牌不正确。请向平台管理员索取 admin.token_file 中的令牌。",
		"signin.needwho":    "请填写姓名：每个操作都会连同姓名记入审计日志。",
		"signin.slow":       "此处输入错误令牌次数过多：请等待五分钟后再试。",
		"signout":           "退出",
		"signedin":          "当前用户",
		"search":            "查找终端",
		"search.hint":       "终端编号、完整号码（13800138000）或掩码号码（138****8000）",
		"search.go":         "查找",
		"search.none":       "没有匹配的终端",
		"search.many":       "有多个终端匹配",
		"search.nonumbers":  "此平台版本不支持按号码查找：请按终端编号查找。",
		"enrol":             "登记终端",
		"enrol.file":        "CSV 文件（terminal_id,key_version,sim_msisdn；表头可选）",
		"enrol.go":          "登记",
		"enrol.bad":         "未登记任何终端：请修正以下各行后重新上传。",
		"enrol.ok":          "已登记",
		"enrol.line":        "行",
		"enrol.problem":     "问题",
		"enrol.counts":      "新增：%d，更新：%d，未变：%d",
		"enrol.nofile":      "请选择要上传的 CSV 文件。",
		"terminal":          "终端",
		"state":             "状态",
		"state.bound":       "已绑定",
		"state.unbound":     "未绑定",
		"number":            "绑定号码",
		"sim":               "SIM 号码",
		"boundat":           "绑定时间",
		"enrolledat":        "登记时间",
		"keyversion":        "密钥版本",
		"timeline":          "时间线",
		"at":                "时间",
		"actor":             "操作方",
		"event":             "事件",
		"detail":            "详情",
		"activations":       "开通请求",
		"messages":          "已发短信（MT）",
		"kind":              "类型",
		"to":                "接收方",
		"parts":             "分段（回执）",
		"attempts":          "尝试次数",
		"lasterror":         "最近错误",
		"id":                "编号",
		"reason":            "原因",
		"reason.hint":       "原因（用户原话、工单号）：将记入审计日志",
		"reason.needed":     "请填写原因：它将记入审计日志。",
		"actions":           "操作",
		"action.resend":     "重发确认短信",
		"action.unbind":     "解除绑定",
		"action.cancel":     "取消待处理的开通",
		"confirm":           "确认",
		"confirm.q.resend":  "要向终端 %s 重发确认短信吗？",
		"confirm.q.unbind":  "要解除终端 %s 与 %s 的绑定吗？终端下次查询时会重新请求开通。",
		"confirm.q.cancel":  "要取消终端 %[2]s 的开通请求 %[1]s 吗？",
		"back":              "返回",
		"done.resend":       "确认短信已排队发送。",
		"done.unbind":       "已解除绑定。",
		"done.cancel":       "开通请求已取消。",
		"err.notbound":      "终端未绑定：无可重发或解除的绑定。",
		"err.nosim":         "不知道此终端的 SIM 号码：请登记其 sim_msisdn。",
		"err.notpending":    "该开通请求已不在待处理状态。",
		"err.conflict":      "终端在您查看后已变更：请重新查看后再试。",
		"err.store":         "存储出错；请查看平台日志后重试。",
		"err.notfound":      "没有此终端。",
		"none":              "无",
		"lang":              "English",
		"forbidden.title":   "已拒绝",
		"forbidden.csrf":    "此表单已过期或并非来自控制台。请返回、刷新页面后重试。",
		"unauthorized.body": "请先登录。",
	},
}

// text returns the string key in lang (English when missing, the key
// itself when English lacks it too, so a gap shows instead of vanishing).
func text(lang, key string) string {
	if s, ok := messages[lang][key]; ok {
		return s
	}
	if s, ok := messages["en"][key]; ok {
		return s
	}
	return key
}
