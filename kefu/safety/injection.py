"""Prompt-injection, jailbreak and system-prompt-extraction heuristics, Chinese and English.

The text is first *normalised* so that disguises read as plain words: invisible characters
dropped, full width and look-alike letters folded, traditional characters simplified,
spelled-out words joined ("忽 略 之 前", "i g n o r e", "s.h.o.w"), leetspeak read
("1gn0r3 y0ur rul3s"), and base64 or ROT13 payloads decoded and appended.

Each rule is a weighted pattern, some with a second pattern that must also appear (a
request verb next to "your prompt"), written to stay quiet on ordinary customer messages
("忽略这个订单吧", "系统提示我支付失败", "please ignore my previous order"). Weights combine
like independent pieces of evidence, so a weak cue (role play, "no restrictions", a claim to
be an admin) alone is reported but not flagged, while two together are. The bundled
evaluation set (``kefu eval injection``) measures recall and false positives.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass

from kefu.core.regex_prefilter import LiteralPrefilter
from kefu.safety.folding import fold_text
from kefu.safety.leaks import leaks_secret
from kefu.safety.text import clean_text

__all__ = ["InjectionVerdict", "detect_injection", "leaks_secret", "normalise_for_detection"]

_S = r"[^.?!。？！\n]"  # any character within the same sentence
_NOT_MINE = r"(?:(?!\bmy\b|我)[^.?!。？！\n])"  # ... that is not the customer's own ("my")

# --- English -------------------------------------------------------------------------
_IGNORE_EN = (
    r"(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|clear|never ?mind|"
    r"stop following|(?:do not|don't|no longer) follow|cancel)"
)
_OBJECT_EN = (
    r"(?:instructions?|prompts?|rules|guidelines|directives?|constraints|programming|"
    r"directions|context|task|training|settings)"
)
_VERB_EN = (
    r"(?:print|show|reveal|display|output|repeat|tell me|tell|give me|share|sharing|leak|dump|"
    r"paste|pasting|quote|copy|list|send|resend|translate|summari[sz]e|rewrite|paraphrase|"
    r"convert|encode|disclose|expose|provide|see|what(?:'s| is| are| was| were| does| do))"
)
_ADJ_EN = (
    r"(?:full|exact|entire|whole|complete|original|initial|hidden|secret|system|internal|"
    r"actual|real|developer|first|underlying|own|current|default)"
)
_SECRET_EN = (
    r"(?:pre-?prompt|prompt|instructions?|system (?:message|prompt)|persona(?: description)?|"
    r"configuration|config|guidelines|directives|rules|programming|context(?: window)?|"
    r"set-?up|secrets|api keys?|secret keys?)"
)
_GIVEN_TO_YOU = (
    r"(?:that |which )?(?:you were given|you've been given|you have been given|you were told|"
    r"you received|you got|configures? you|sets? up your|set you up|defines? your|"
    r"you operate under|you(?: are|'re)? follow(?:ing)?|(?:your developers|they|the shop|"
    r"the company|someone) gave you|given to you|were you given|did (?:the shop|they|your "
    r"developers|the company|someone) give you|you were (?:configured|set up|programmed) with|"
    r"configured you with|(?:that )?came before my (?:first )?(?:message|question))"
)
# --- Chinese -------------------------------------------------------------------------
_OWN_ZH = (
    r"(?:你(?!们)的?|给你的?|你[^。？！，,\n]{0,4}?(?:收到|接收到|接到|得到|拿到)的?|你被|"
    r"(?:系统|店铺|开发者|你的开发者)给你的?|你背后的?)"
)
_SECRET_ZH = (
    r"(?:人设|角色设定|(?:初始|原始|系统|隐藏|后台|内部)(?:指令|指示|设定|设置|配置|消息)|"
    r"系统提示词?|提示词|(?:完整|全部|原始|初始|隐藏)的?提示(?![我说])|设定|指令|指示|"
    r"配置文件|system prompt|system message|prompt|instructions|第一条消息|"
    r"那段(?:设定)?(?:话|文字))"
)
_WEAK_SECRET_ZH = r"(?:规则|规定|配置|密[钥鑰]|api ?key|密码|说明|设置|config|rules|keys?)"
# What the model was given, in general words: only with "你收到的", "系统给你的".
_GIVEN_ZH = (
    r"(?:你[^。？！，,\n]{0,4}?(?:收到|接收到|接到|得到|拿到)的?|(?:系统|店铺|开发者)?给你的)"
)
_GENERIC_ZH = r"(?:那些|那段|第一段|第一条)?(?:系统)?(?:话|文字|内容|消息|文本)"
_REQUEST_ZH = (
    r"(?:告诉|说出|输出|打印|显示|展示|透露|泄露|复述|重复|给我|发我|发给我|发一下|贴|列出|"
    r"写出|念|抄|复制|分享|提供|说说|说一下|说下|讲讲|讲一下|翻译|总结|改写|转成|说一遍|发出|"
    r"是什么|是啥|写了什么|写了啥|"
    r"有哪些|哪些内容|原文|全文|原样|怎么写的|\b(?:show|share|paste|tell|give|send|translate)\b)"
)
_IGNORE_ZH = (
    r"(?:忽略|无视|忘记|忘掉|忘了|不要理会|别管|不用管|不要管|跳过|抛开|丢掉|清空|撤销|"
    r"不用遵守|不要遵守|不要再遵守|停止遵守|不再遵守|不再听从|ignore|forget|disregard)"
)
_EARLIER_ZH = (
    r"(?:之前|以前|先前|上面|前面|以上|上述|所有|一切|全部|你的|给你的|原来|原有|原先|系统|"
    r"默认|你之前|你收到)"
)
_RULES_ZH = (
    r"(?:指令|指示|提示词|提示|规则|规定|设定|命令|限制|约束|prompt|记忆|人设|身份|"
    r"rules|instructions|settings)"
)

# (name, weight, pattern, also): ``also`` must match somewhere in the text too. Patterns see
# the normalised text and ignore ASCII case unless they say otherwise.
_RULES: tuple[tuple[str, float, str, str | None], ...] = (
    (
        "ignore_instructions",
        0.8,
        rf"\b{_IGNORE_EN}\b{_NOT_MINE}{{0,30}}?\b(?:previous|prior|above|earlier|preceding|all|"
        rf"any|your|these|those|system|original|initial|usual)\b{_NOT_MINE}{{0,20}}?"
        rf"\b{_OBJECT_EN}\b|"
        rf"\b{_IGNORE_EN}\b{_NOT_MINE}{{0,20}}?\b{_OBJECT_EN}\b{_S}{{0,12}}?\b(?:above|before|"
        r"so far)\b|"
        rf"\b{_IGNORE_EN}\b (?:everything|all) (?:above|before|you (?:were|have been) told)|"
        rf"\b{_IGNORE_EN}\b (?:what|everything|anything) (?:the shop|they|your (?:developers|"
        r"creators|owners?)|the system|someone) (?:told|taught|instructed|said to) you\b|"
        rf"\b(?:previous|prior|earlier|original|your) {_OBJECT_EN}\b{_S}{{0,25}}?\b(?:are|is|"
        r"have been|were) (?:now )?(?:cancel+ed|outdated|void|invalid|revoked|obsolete|"
        r"overridden|no longer valid)",
        None,
    ),
    (
        "ignore_instructions_zh",
        0.8,
        rf"{_IGNORE_ZH}(?:(?!我)[^。？！.?!\n]){{0,12}}?{_EARLIER_ZH}{_S}{{0,8}}?{_RULES_ZH}|"
        rf"(?:之前|以前|先前|上面|前面|以上|你的|给你的)(?:的)?(?:所有|全部|一切)?的?{_RULES_ZH}"
        rf"{_S}{{0,6}}?(?:全部|都|已经|已)?(?:被)?(?:作废|失效|不算数|取消|无效|忽略)",
        None,
    ),
    (
        "void_earlier_zh",
        0.3,
        r"(?:之前|以前|先前|上面|前面|以上)的?(?:所有|全部)?的?(?:要求|内容|说的|话)"
        r"[^。？！\n]{0,4}?(?:全部|都)?(?:作废|不算数|失效)",
        None,
    ),
    (
        "forget_identity",
        0.6,
        r"(?:忘记|忘掉|忘了|停止扮演|不要再扮演|别再当)(?:你)?(?:是)?(?:一个|一名)?"
        r"(?:客服|助手|机器人|ai)|\bforget (?:that )?you(?:'re| are) (?:a|an|the)\b",
        None,
    ),
    (
        "role_play",
        0.4,
        r"\b(?:you are now|you're now|from now on,? you(?: are|'re| will| must)|pretend (?:to be|"
        r"you are|you're|that you)|act as (?:if|an?)\b|role-?play(?: as|:|\.)|let's role-?play|"
        r"imagine (?:you are|you're)|you will (?:now )?play the role|stay in character|"
        r"in character as)|从现在(?:开始|起)[,， ]*你(?:就)?(?:是|扮演|作为|叫|将)|"
        r"你现在(?:是|就是|扮演|作为)(?:一个|一名|一位)(?!人工|真人|客服|机器人)|"
        r"(?:请你|你来|你要|你需要|你就|你必须|请)(?:扮演|假装|装作|充当)|"
        r"(?:扮演|假装|装作|充当)(?:一个|一名|一位|成)|假装(?:你|自己)是|角色扮演|"
        r"(?:设想|想象|假设|假如)你是|你(?:现在)?的身份是",
        None,
    ),
    (
        "no_restrictions",
        0.35,
        r"\b(?:no|without|free (?:of|from)|bypass(?:ing)?|remove|disable|ignoring) (?:any |all |"
        r"your |the |of )*(?:restrictions?|limitations?|limits|filters?|filtering|censorship|"
        r"guidelines|guardrails|safety(?: filters)?|ethics|morals?|rules)\b|"
        r"\b(?:unrestricted|unfiltered|uncensored)\b|"
        r"(?:没有|不受|无视|摆脱|解除|突破|绕过|绕开|取消|关闭|忽略)(?:你)?(?:任何|一切|所有)?的?"
        r"(?:安全)?(?:限制|约束|审查|道德|规则|过滤|安全)|无限制|不受限|不要过滤|不过滤",
        None,
    ),
    (
        "unrestricted_you",
        0.6,
        r"你(?:现在|已经)?(?:没有|不受)(?:任何)?(?:限制|约束|规则)|"
        r"\byou (?:now )?(?:have|has) no (?:restrictions|rules|limits|filters)\b|"
        r"\byou(?: are|'re) (?:now )?(?:free|unrestricted|unfiltered|uncensored)\b",
        None,
    ),
    (
        "persona_swap",
        0.4,
        r"\b(?:evil|free|uncensored|rogue|unchained|dark)[- ]?(?:gpt|bot|ai)\b|"
        r"\b(?:hacker|linux terminal|terminal|girlfriend|boyfriend)\b|escaped its creators|"
        r"叛逆的?ai|邪恶|黑客|女朋友|男朋友|恋人",
        None,
    ),
    (
        "grandma_exploit",
        0.5,
        r"(?:奶奶|外婆|姥姥|grandma|grandmother).{0,40}(?:激活码|序列号|密[钥鑰]|keys?|password)",
        None,
    ),
    (
        "game_frame",
        0.3,
        r"\blet's play a game\b|我们(?:来)?玩(?:个|一个)游戏",
        None,
    ),
    (
        "answer_anything",
        0.45,
        r"\b(?:answer|respond to|say) (?:anything|everything)\b|\bwhat ?ever i (?:say|ask)\b|"
        r"\b(?:never|don't|do not) refuse\b|\bcan do anything\b(?! (?:about|for|to))|"
        r"回答(?:我)?(?:任何|所有)问题|"
        r"什么都(?:能|可以|要)(?:回答|说|做)|畅所欲言|不(?:要|许)拒绝",
        None,
    ),
    (
        "dan",
        0.8,
        r"\bdo anything now\b|\bdan ?(?:mode|模式|prompt|jailbreak)|strive to avoid norms",
        None,
    ),
    ("dan_name", 0.4, r"(?-i:\b(?:DAN|STAN)\b)", None),  # upper case only: "Dan from sales"
    (
        "developer_mode",
        0.7,
        rf"\byou\b{_S}{{0,30}}\b(?:developer|dev|god|dan|jailbreak|unrestricted|debug) mode\b|"
        r"\b(?:developer|god|dan|jailbreak|sudo|unrestricted) ?mode (?:is )?(?:enabled|activated|"
        r"on(?=\s*(?:[.!,:;]|$)))|"
        r"\b(?:enable|activate|switch to|enter|turn on) (?:god|dan|jailbreak|jailbroken|"
        r"unrestricted|sudo) mode\b|"
        r"^[\s\"']*(?:please )?(?:enable|activate|enter|switch to|turn on) "
        r"(?:developer|dev|debug) mode[\s.!]*$|"
        r"你(?:现在)?(?:已经|已|将|要|必须|立即|立刻)?(?:进入|切换到|切换为|处于)了?"
        r"(?:开发者|上帝|越狱|调试|dan|无限制|管理员)模式|(?:现在|立即|立刻)?(?:进入|切换到|"
        r"开启|启动)(?:上帝|越狱|dan|无限制)模式|(?:现在|立即|立刻)(?:进入|切换到|开启)"
        r"(?:开发者|调试)模式|^\s*(?:请)?(?:开启|进入|打开|切换到)(?:开发者|调试)模式|"
        r"(?:开发者|上帝|越狱|dan|developer|god|jailbreak) ?(?:模式|mode) ?(?:已)?"
        r"(?:开启|启动|激活)|"
        r"(?:切换为|进入)(?:了)?管理员模式",
        None,
    ),
    ("jailbreak_term", 0.3, r"\bjailbr(?:eak|oken)|越狱|developer mode|god mode|开发者模式", None),
    (
        "prompt_extraction",
        0.8,
        rf"\b{_VERB_EN}\b{_S}{{0,30}}?\b(?:your|ur|yo|the) (?:{_ADJ_EN} )+(?:prompt|instructions|"
        r"message|rules)\b|"
        rf"\b{_VERB_EN}\b{_S}{{0,30}}?\b(?:your|ur|yo) (?:{_ADJ_EN} ?)*{_SECRET_EN}\b"
        r"(?! (?:for|on|about|to|regarding|of)\b)|"
        rf"\b(?:prompt|instructions?|rules?|guidelines?|text|message|configuration|directives|"
        rf"words)\b{_S}{{0,20}}?{_GIVEN_TO_YOU}|"
        r"\b(?:what|everything) (?:were|have) you (?:been )?(?:told|instructed)\b|"
        r"\bhow (?:exactly )?(?:were|are) you (?:instructed|programmed|configured|told) to\b",
        None,
    ),
    (
        "prompt_extraction_zh",
        0.8,
        rf"{_OWN_ZH}{_S}{{0,10}}?{_SECRET_ZH}|给(?:你|客服机器人|机器人|ai|bot)写的?{_S}{{0,6}}?"
        r"(?:规则|提示词|指令|设定|说明|内容|prompt)|(?:上下文|context)(?:里|中)?的?(?:系统消息|"
        r"系统提示|内容)|(?:最开始|一开始|最初|开头)的?(?:系统消息|系统提示|指令|设定|那段话)|"
        r"把系统提示(?!我)|"
        r"系统提示词|system prompt|初始指令|原始指令|隐藏指令",
        _REQUEST_ZH,
    ),
    (
        "secret_request_zh",
        0.6,
        rf"{_OWN_ZH}{_S}{{0,10}}?{_WEAK_SECRET_ZH}|{_GIVEN_ZH}{_S}{{0,6}}?{_GENERIC_ZH}",
        _REQUEST_ZH,
    ),
    (
        "credentials",
        0.5,
        r"\b(?:print|show|reveal|output|give me|send|list|dump|disclose|tell me)\b"
        r"[^.?!。？！\n]{0,25}?\b(?:api keys?|secret keys?|environment variables|env vars|"
        r"(?:admin|database|root) password|secrets|all (?:the )?(?:configuration|config) and "
        r"keys)\b|(?:输出|发我|发一下|告诉我|给我|显示|打印|列出)[^。？！\n]{0,10}?(?:配置和密[钥鑰]|"
        r"后台配置|全部配置|环境变量|数据库密码|管理员密码|api ?key|内部变量)",
        None,
    ),
    (
        "internal_secret",
        0.4,
        r"内部的?(?:优惠|折扣)?(?:规则|信息|折扣码|政策|配置|指令|变量)|后台(?:配置|指令)|打开后台|"
        r"\b(?:internal|hidden|secret) (?:policies|rules|discount codes?|instructions|variables|"
        r"information)\b|(?:透露|说出|泄露)(?:任何|所有|一切)(?:的)?(?:秘密|信息|内容)|"
        r"\b(?:reveal|leak|tell) (?:any|all|every) secrets?\b",
        None,
    ),
    (
        "authority_claim",
        0.35,
        r"(?:我是|作为)(?:你们的?|你的?|[^，,。\s]{0,8}的)?(?:超级|系统)?(?:管理员|开发人员|开发者|"
        r"老板|工程师|技术部|运维|测试人员|admin|owner)|测试人员|"
        r"\b(?:i am|i'm|this is|as) (?:the |your |a |an )?(?:system |shop |site )?(?:administrator|"
        r"admin|developer|owner|engineer|it team|openai employee|root)\b|"
        r"\bmessage from the (?:shop |store )?(?:manager|admin|owner|system|developers?)\b",
        None,
    ),
    (
        "authority_grant",
        0.45,
        r"授权你|命令你|我要求你|(?:我有|拥有)(?:最高|管理员|超级|root)?权限|权限已(?:开启|开通)|已授权|"
        r"授权了|\bauthori[sz]e you\b|\bgranted me\b|\bi have (?:root|admin|full|the highest) "
        r"(?:access|privileges|permissions)\b|\badmin override\b|\boverride code\b|"
        r"\bmaintenance mode\b|\bsecurity checks are (?:disabled|off)\b|\byou (?:may|can) now\b|"
        r"\bi(?:'m| am) instructing you\b",
        None,
    ),
    (
        "obey_me",
        0.45,
        r"按我说的做|只听我的|听我的|服从我|\bobey me\b|\bdo as i say\b|"
        r"\byou (?:must|will) (?:obey|comply)\b|\bcomply (?:with every|fully)\b",
        None,
    ),
    (
        "new_task",
        0.5,
        r"(?:新的?|真正的|接下来的?)(?:任务|指令|规则)(?:是|为|:)|"
        r"\bnew (?:task|instructions?|rules?|role|objective|prompt)\s*(?::|is\b|are\b)|"
        r"\byour (?:only |new |real )(?:goal|task|job|purpose|rules) (?:now )?(?:is|are)\b",
        None,
    ),
    ("system_prompt_term", 0.4, r"\bsystem prompts?\b|系统提示词", None),
    (
        "repeat_above",
        0.6,
        r"\b(?:repeat|print|output|copy|recite|write|translate|summari[sz]e)\b[^.?!\n]{0,20}?"
        r"\b(?:text|words|everything|all|content) (?:above|before|preceding|so far)\b",
        None,
    ),
    (
        "repeat_above_zh",
        0.45,
        r"(?:重复|复述|输出|打印|复制|念)[^。？！\n]{0,6}?(?:上面|以上|上述|前面|之前)的?(?:所有|全部)?"
        r"(?:内容|文字|文本|话|一切)",
        None,
    ),
    (
        "before_this_zh",
        0.6,
        r"(?:这句话|这条消息|这条回复|这句)(?:之前|前面|以前)的(?:所有|全部)?(?:文字|内容|文本|话)",
        None,
    ),
    (
        "continue_text",
        0.8,
        r"(?:续写|接着写|继续写|补全|\bcontinue (?:the|this) (?:text|sentence)|\bcomplete the "
        r"(?:text|sentence))[^\n]{0,12}?[\"“'「]\s*(?:你是|you are)",
        None,
    ),
    (
        "conversation_start",
        0.5,
        r"\bfirst (?:line|message|sentence|words?) of (?:this|the|our) (?:conversation|chat)\b|"
        rf"\b{_VERB_EN}\b{_S}{{0,30}}?\b(?:before|above) my (?:first )?(?:message|question)\b|"
        rf"\b{_VERB_EN}\b{_S}{{0,30}}?\bfirst \d+ words of your\b",
        None,
    ),
    (
        "verbatim",
        0.35,
        r"\b(?:verbatim|word for word|word-for-word|from the (?:very )?(?:beginning|start|top))\b|"
        r"逐字|一字不[差漏改]|原封不动|从头到尾|从头|最开始的|(?:所有|全部)(?:内容|文字)",
        None,
    ),
    (
        "encoded_instruction",
        0.6,
        rf"(?:\bdecode|解码|\brot-?13\b){_S}{{0,25}}?(?:\bfollow|\bobey|\bexecute|\bdo what|照做|"
        rf"执行)|\b(?:execute|follow|obey)\b{_S}{{0,20}}?\b(?:decoded|base64|rot-?13)\b",
        None,
    ),
    ("encoding_request", 0.3, r"\b(?:in|using|as) base64\b|base64编码|十六进制|\bin hex\b", None),
    (
        "restriction_probe",
        0.4,
        r"被禁止(?:说|回答|透露)|\bwhat are you (?:not allowed|forbidden)",
        None,
    ),
    ("verbatim_rules_zh", 0.45, r"(?:规则|设定|指令|提示词)的?(?:原文|全文)", _REQUEST_ZH),
    (
        "yours_request",
        0.3,
        r"\b(?:paste|pasting|share|sharing|send|sending|post|posting) yours\b",
        None,
    ),
    (
        "fake_role_marker",
        0.7,
        r"<\|im_(?:start|end)\|>|<\|(?:system|assistant|user|end)\|>|\[/?inst\]|<</?sys>>|</s>|"
        r"</?system>|^\W*```\s*system|###\s*(?:system|instruction|系统|指令)|"
        r"\[(?:system|sys|admin)\]\s*:|\bend (?:of )?(?:the )?(?:system prompt|user input)\b|"
        r"\bbegin new (?:prompt|instructions)\b|\bnew (?:system )?instructions?\s*:|"
        r"(?:新的?|真正的|最新的?)(?:系统)?(?:指令|规则|任务)\s*:",
        None,
    ),
    (
        "bracket_marker",
        0.3,
        r"[\[【]\s*(?:system|系统)\s*(?:消息|通知|指令|message)?\s*[\]】]",
        None,
    ),
    ("role_label", 0.3, r"^\s*(?:system|assistant|系统)\s*:", None),
    ("no_longer_assistant", 0.4, r"\byou(?: are|'re) no longer\b|你(?:已经)?不再是|不再听从", None),
)


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII | re.IGNORECASE | re.MULTILINE)


_COMPILED = tuple(
    (name, weight, _compile(pattern), _compile(also) if also else None)
    for name, weight, pattern, also in _RULES
)
# Most messages hold none of the words any rule needs: one pass for the words present picks
# the few rules that could match, instead of running all of them (~70 µs → ~10 µs a message,
# the same verdicts: a rule is skipped only when it cannot match).
_PREFILTER = LiteralPrefilter([pattern for _, _, pattern, _ in _COMPILED])

_SPELLED_OUT = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z0-9](?P<sep>[ .\-_/*|·+~])[A-Za-z0-9](?![A-Za-z0-9])"
    r"(?:(?P=sep)[A-Za-z0-9](?![A-Za-z0-9]))+"
)
_CJK_GAP = re.compile(
    r"(?<=[\u3400-\u9fff])(?:[^\S\n]+|[^\S\n]*[\-_/*|·.~+][^\S\n]*)(?=[\u3400-\u9fff])"
)
_LEET_TOKEN = re.compile(r"[A-Za-z0-9@$]*[A-Za-z][A-Za-z0-9@$]*")
_LEET_CHARS = frozenset("013457@$")
_LEET = str.maketrans("013457@$", "oieastas")
_FOUR_DIGITS = re.compile(r"\d{4}")
_ROT13 = re.compile(r"\brot-?13\b", re.IGNORECASE)
_BLANKS = re.compile(r"[^\S\n]+")
# What spelled-out words, CJK gaps and runs of blanks all need: text without any (most
# Chinese messages) skips the three substitutions.
_SEPARATOR = re.compile(r"[^\S\n]|[\-_/*|·.~+]")
_NOT_LEET = frozenset({"base64", "base32", "rot13", "utf8", "mp3", "mp4", "4k", "5g", "4g", "3d"})
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


def _join_spelled_out(match: re.Match[str]) -> str:
    return match.group(0).replace(match.group("sep"), "")


def _read_leet(match: re.Match[str]) -> str:
    token = match.group(0)
    if token.lower() in _NOT_LEET or _LEET_CHARS.isdisjoint(token):
        return token
    if _FOUR_DIGITS.search(token):
        return token  # an order number or a code, not a word
    return token.translate(_LEET)


def _decoded_payloads(text: str) -> list[str]:
    """Base64 runs that decode to readable text, and the ROT13 reading of a message that
    mentions ROT13: attackers hide instructions there."""
    found = []
    for token in _BASE64.findall(text):
        try:
            data = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
            decoded = data.decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if len(decoded) >= 6 and decoded.isprintable():
            found.append(decoded)
    if _ROT13.search(text):
        found.append(codecs.decode(text, "rot13"))
    return found


def _readable(text: str) -> str:
    # Reading leetspeak turns characters into letters only, never into separators.
    separated = _SEPARATOR.search(text) is not None
    if separated:
        text = _SPELLED_OUT.sub(_join_spelled_out, text)
        text = _CJK_GAP.sub("", text)
    if not _LEET_CHARS.isdisjoint(text):  # else every token would come back unchanged
        text = _LEET_TOKEN.sub(_read_leet, text)
    if separated:
        text = _BLANKS.sub(" ", text)
    return text.strip()


def normalise_for_detection(text: str) -> str:
    """``text`` as the rules see it: folded (invisible characters, width, look-alikes,
    traditional characters), spelled-out words joined, leetspeak read, hidden payloads
    decoded and appended on their own lines. Case is kept ("DAN" differs from "Dan")."""
    folded = fold_text(clean_text(text))
    return "\n".join(_readable(part) for part in [folded, *_decoded_payloads(folded)])


@dataclass(frozen=True, slots=True)
class InjectionVerdict:
    """Whether a text looks like an injection; ``reasons`` name the rules that matched."""

    flagged: bool
    score: float
    reasons: list[str]


def detect_injection(text: str, *, threshold: float = 0.5) -> InjectionVerdict:
    """Score ``text`` against the rules; flagged when the combined score reaches ``threshold``."""
    normalised = normalise_for_detection(text)
    reasons: list[str] = []
    miss = 1.0
    for index in sorted(_PREFILTER.candidates(normalised)):
        name, weight, pattern, also = _COMPILED[index]
        if pattern.search(normalised) and (also is None or also.search(normalised)):
            reasons.append(name)
            miss *= 1.0 - weight
    score = round(1.0 - miss, 3)
    return InjectionVerdict(flagged=score >= threshold, score=score, reasons=reasons)
