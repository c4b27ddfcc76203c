package display

import (
	"fmt"
	"sort"
	"strings"
)

// msgID names one message of the catalogue.
type msgID string

// Message IDs. Placeholders in braces are filled by the renderer:
// {tid} terminal ID, {to} SMS number, {body} SMS text, {msisdn} bound
// number, {error} the Screen's error text.
const (
	msgTitle          msgID = "title"
	msgChecking       msgID = "checking"
	msgNotActivated   msgID = "not_activated"
	msgTerminalID     msgID = "terminal_id"      // {tid}
	msgTextToActivate msgID = "text_to_activate" // {body} {to}
	msgScanQR         msgID = "scan_qr"
	msgWaiting        msgID = "waiting"
	msgOffline        msgID = "offline"
	msgBound          msgID = "bound" // {msisdn}
	msgBoundNoNumber  msgID = "bound_no_number"
	msgUnknown        msgID = "unknown"
	msgContactSupport msgID = "contact_support" // {tid}
	msgAttention      msgID = "attention"
	msgProblem        msgID = "problem" // {error}
	msgSeeLog         msgID = "see_log"
)

// catalogues holds every user-visible text, one map per language. A value
// may span lines ("\n") where a language needs more room. Keys and
// placeholders must match across languages: messages_test.go checks.
var catalogues = map[string]map[msgID]string{
	"en": {
		msgTitle:          "bindpay — mobile payment binding",
		msgChecking:       "Checking activation status…",
		msgNotActivated:   "Not activated.",
		msgTerminalID:     "Terminal ID: {tid}",
		msgTextToActivate: "To activate, text  {body}  to  {to}\nfrom the phone that will pay.",
		msgScanQR:         "Or scan the QR code with that phone: the message opens, ready to send.",
		msgWaiting:        "Waiting for confirmation…",
		msgOffline:        "Note: the service platform cannot be reached; activation by SMS still works.",
		msgBound:          "Activated. Bound to {msisdn}.",
		msgBoundNoNumber:  "Activated.",
		msgUnknown:        "This terminal is not registered with the operator.",
		msgContactSupport: "Please contact customer support and quote terminal ID {tid}.",
		msgAttention:      "Something needs attention.",
		msgProblem:        "Problem: {error}",
		msgSeeLog:         "Details are in the agent's log.",
	},
	"zh-CN": {
		msgTitle:          "bindpay — 号码绑定支付",
		msgChecking:       "正在查询开通状态…",
		msgNotActivated:   "未开通",
		msgTerminalID:     "终端编号：{tid}",
		msgTextToActivate: "请用付费手机发送短信 {body} 到 {to}",
		msgScanQR:         "也可用该手机扫描二维码，短信自动填好，发送即可。",
		msgWaiting:        "正在等待开通确认…",
		msgOffline:        "注意：暂时无法连接业务平台，短信开通仍然有效。",
		msgBound:          "已开通，绑定号码 {msisdn}",
		msgBoundNoNumber:  "已开通",
		msgUnknown:        "本终端尚未在运营商处登记。",
		msgContactSupport: "请联系客服，并告知终端编号 {tid}。",
		msgAttention:      "需要处理。",
		msgProblem:        "问题：{error}",
		msgSeeLog:         "详情请查看代理程序日志。",
	},
}

// languageAliases maps accepted spellings (lower case, "-" separated) to a
// catalogue key.
var languageAliases = map[string]string{
	"en":      "en",
	"zh":      "zh-CN",
	"zh-cn":   "zh-CN",
	"zh-hans": "zh-CN",
}

// Languages returns the supported language tags, sorted.
func Languages() []string {
	langs := make([]string, 0, len(catalogues))
	for l := range catalogues {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	return langs
}

// Language returns the name of the catalogue for lang, such as "zh-CN"
// for "zh_cn" or "en" for "", or an error wrapping ErrUnsupportedLanguage.
func Language(lang string) (string, error) {
	key, ok := lookupLanguage(lang)
	if !ok {
		return "", fmt.Errorf("%w %q (supported: %s)", ErrUnsupportedLanguage, lang, strings.Join(Languages(), ", "))
	}
	return key, nil
}

// lookupLanguage returns the catalogue key for lang ("" means "en").
func lookupLanguage(lang string) (string, bool) {
	if lang == "" {
		return "en", true
	}
	key, ok := languageAliases[strings.ReplaceAll(strings.ToLower(lang), "_", "-")]
	return key, ok
}
