package activation

import (
	"fmt"

	"bindpay/internal/server/enrol"
)

// Reply kinds: one SMS to the phone per outcome.
const (
	ReplyActivated  = "activated"
	ReplyUnknown    = "unknown_terminal"
	ReplyBoundOther = "bound_other"
	ReplyRefused    = "refused"
	ReplyFailed     = "failed"
	ReplyMalformed  = "malformed"
)

var replies = map[string]map[string]string{
	"zh-CN": {
		ReplyActivated:  "【号码绑定支付】终端%s已与本号码绑定，支付服务已开通。",
		ReplyUnknown:    "【号码绑定支付】未找到终端%s，请核对终端屏幕上显示的编号后重发。",
		ReplyBoundOther: "【号码绑定支付】终端%s已绑定其他号码，如需更换请联系客服。",
		ReplyRefused:    "【号码绑定支付】本号码暂不能开通终端%s的支付服务%s。",
		ReplyFailed:     "【号码绑定支付】终端%s暂时无法开通，请联系客服。",
		ReplyMalformed:  "【号码绑定支付】开通请发送：BIND 终端编号%s",
	},
	"en": {
		ReplyActivated:  "BindPay: terminal %s is now bound to this number; payment is activated.",
		ReplyUnknown:    "BindPay: terminal %s is unknown. Check the ID on the terminal's screen and text again.",
		ReplyBoundOther: "BindPay: terminal %s is already bound to another number. Contact support to change it.",
		ReplyRefused:    "BindPay: this number cannot activate payment on terminal %s%s.",
		ReplyFailed:     "BindPay: terminal %s cannot be activated now. Please contact support.",
		ReplyMalformed:  "BindPay: to activate, text BIND <terminal ID>%s",
	},
}

// ReplyText is the reply SMS of kind in lang (zh-CN when unknown). tid is
// what the phone typed and is shown only when it is a terminal ID; detail
// (the OSS's reason) is appended in brackets when set.
func ReplyText(lang, kind, tid, detail string) string {
	m, ok := replies[lang]
	if !ok {
		m = replies["zh-CN"]
	}
	if !enrol.ValidTerminalID(tid) {
		tid = ""
	}
	if detail != "" {
		if lang == "en" {
			detail = " (" + detail + ")"
		} else {
			detail = "（" + detail + "）"
		}
	}
	switch kind {
	case ReplyRefused:
		return fmt.Sprintf(m[kind], tid, detail)
	case ReplyMalformed:
		return fmt.Sprintf(m[kind], "")
	default:
		return fmt.Sprintf(m[kind], tid)
	}
}

// ConfirmationText is the MT confirmation to the terminal: Chinese text
// for people and the signed BP1 token (DESIGN.md, "SMS platform →
// terminal").
func ConfirmationText(tid, masked, token string) string {
	return "【号码绑定支付】终端" + tid + "已开通，绑定号码" + masked + "。" + token
}
