//! Interface text in Simplified Chinese (the default) and English, chosen by the `weige_lang`
//! cookie; and how instants are shown (Asia/Shanghai, which keeps UTC+8 all year).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{FixedOffset, TimeZone};
use std::convert::Infallible;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    Zh,
    En,
}

/// The translator handed to every template.
#[derive(Debug, Clone, Copy)]
pub struct Tr(pub Locale);

pub const LANG_COOKIE: &str = "weige_lang";

/// (key, 中文, English)
const TEXTS: &[(&str, &str, &str)] = &[
    ("finding.invalid_shape", "形状无效", "Invalid shape"),
    ("finding.overlap", "重叠", "Overlap"),
    ("finding.gap", "缝隙", "Gap"),
    ("finding.outside_parent", "超出上级", "Outside its parent"),
    ("finding.household_count", "户数超限", "Household count"),
    (
        "finding.building_split",
        "楼栋跨格",
        "Building across cells",
    ),
    ("nav.cases", "案件", "Cases"),
    ("nav.categories", "案件类别", "Case categories"),
    ("nav.calendar", "工作日历", "Working calendar"),
    (
        "categories.hint",
        "每个类别规定首办主体与层级、各环节及全案时限（工作时、工作日或自然日）、临期提醒比例、超时是否自动上报、结案条件。",
        "Each category sets who handles it first and at which tier, the limit of each stage and of the whole case (working hours, working days or natural days), when clocks turn yellow, whether an overdue case climbs by itself, and its closing conditions.",
    ),
    ("categories.handler", "首办主体", "Handled by"),
    ("categories.handle", "处置时限", "Handling limit"),
    ("categories.case", "全案时限", "Case limit"),
    ("categories.edit", "编辑", "Edit"),
    ("categories.need", "需求类型", "Need"),
    ("categories.limits", "时限", "Time limits"),
    ("categories.warn", "临期提醒比例", "Yellow after (share)"),
    (
        "categories.auto",
        "超时自动上报上一级",
        "Escalate when overdue",
    ),
    ("categories.active", "启用", "Active"),
    (
        "calendar.hint",
        "内置 2024–2026 年国务院公布的放假与调休安排；此处可按年增改。工作时间：",
        "China's 2024–2026 holidays and worked weekends are built in; add and change days year by year here. Working hours:",
    ),
    ("calendar.day", "日期", "Day"),
    ("calendar.kind", "类型", "Kind"),
    ("calendar.holiday", "放假", "Holiday"),
    ("calendar.workday", "调休上班", "Worked weekend day"),
    (
        "calendar.normal",
        "按星期（取消设置）",
        "As its weekday (clear)",
    ),
    ("map.cases", "在办案件", "Open cases"),
    ("nav.inbox", "消息", "Inbox"),
    ("nav.drafts", "群消息待确认", "Chat drafts"),
    ("nav.phone", "电话受理", "Phone desk"),
    ("nav.channels", "渠道接入", "Channels"),
    ("channels.groups", "居民微信群", "Residents' chat groups"),
    (
        "channels.groups.hint",
        "群机器人把群消息推送到下列地址，并用密钥签名；消息成为草稿，由微网格员确认立案。回复 webhook 把案件编号和进度链接发回群里。",
        "The group's bot posts each message to the address below, signed with the secret; messages become drafts for the micro-grid worker to confirm. The reply webhook sends the case number and tracking link back to the group.",
    ),
    ("channels.scope", "所属网格", "Grid"),
    ("channels.reply", "回复 webhook", "Reply webhook"),
    ("channels.url", "推送地址", "Post to"),
    (
        "channels.secret",
        "已创建。推送地址和签名密钥（只显示这一次）：",
        "Created. The address and the signing secret (shown only this once):",
    ),
    (
        "channels.sources",
        "转办来源（12345、城市随手拍）",
        "Transfer sources (12345, the city app)",
    ),
    (
        "channels.sources.hint",
        "对方系统用 API 密钥调用 POST /api/v1/transfers 转来工单；案件每次变更状态都推送到所选 webhook（transfer.status）。",
        "The other system posts work orders to POST /api/v1/transfers with an API key; every status change of the case is pushed to the chosen webhook (transfer.status).",
    ),
    ("channels.push", "状态回推 webhook", "Status webhook"),
    (
        "cases.intake",
        "近 30 天上报",
        "Reports in the last 30 days:",
    ),
    (
        "phone.keys",
        "键盘操作：输入来电号码按回车查来电人；Alt+数字把来电追加到对应的未结案件；Ctrl+Enter 登记新案件；Esc 清空接下一个电话。",
        "Keyboard: the number and Enter look the caller up; Alt+digit adds the call to that open case; Ctrl+Enter registers a new case; Esc clears for the next call.",
    ),
    ("phone.number", "来电号码", "Caller's number"),
    ("phone.name", "来电人", "Caller's name"),
    (
        "phone.category.hint",
        "输入类别名称或代码",
        "Type a category's name or code",
    ),
    (
        "phone.micro",
        "微网格编码（可选）",
        "Micro-grid code (optional)",
    ),
    (
        "phone.submit",
        "登记新案件（Ctrl+Enter）",
        "Register a new case (Ctrl+Enter)",
    ),
    ("phone.caller", "来电人", "Caller"),
    (
        "phone.caller.hint",
        "输入号码后按回车查询来电人和他反映过的问题",
        "Enter the number and press Enter to see who is calling and what they reported before",
    ),
    (
        "phone.none",
        "此号码没有反映过问题",
        "No earlier cases from this number",
    ),
    ("phone.earlier", "此前反映的问题", "Earlier cases"),
    ("phone.open", "未结", "open"),
    ("phone.add", "追加到此案件", "Add to this case"),
    ("phone.added", "已追加到案件", "Added to case"),
    ("phone.made", "已登记案件", "Registered case"),
    ("phone.note", "来电补充", "Call"),
    ("phone.resident", "登记住户", "Registered resident"),
    (
        "phone.empty",
        "请先记录来电内容",
        "Write down what the caller says first",
    ),
    (
        "drafts.help",
        "居民在微信群里反映的问题。选好类别点“立案”即生成案件并回复到群里；不是问题或已反映过的点“不立案”。",
        "What residents raised in chat groups. Choose a category and confirm to open a case (the group is told its number), or discard it.",
    ),
    ("drafts.photos", "张图片", "pictures"),
    ("drafts.located", "有位置", "with a location"),
    ("drafts.choose", "选择类别…", "Choose a category…"),
    ("drafts.confirm", "立案", "Confirm"),
    ("drafts.discard", "不立案", "Discard"),
    ("drafts.reason", "不立案原因（可选）", "Why (optional)"),
    (
        "drafts.none",
        "没有待确认的群消息",
        "No chat messages are waiting",
    ),
    ("nav.webhooks", "推送接口", "Webhooks"),
    ("inbox.readall", "全部标为已读", "Mark all read"),
    (
        "webhooks.secret",
        "签名密钥（只显示这一次，请妥善保存）：",
        "Signing secret (shown this once; keep it):",
    ),
    ("webhooks.events", "事件", "Events"),
    ("webhooks.event", "事件", "Event"),
    (
        "webhooks.hint",
        "事件：case.reported、case.changed、case.warning、case.overdue（clock 为 stage 环节时限或 case 全案时限）或 *。请求头 X-Weige-Signature = sha256=HMAC(密钥, 时间戳 + \".\" + 正文)，X-Weige-Delivery 为投递编号（接收方据此去重）。失败后按 5 秒起倍增重试，10 次后转为失败。",
        "Events: case.reported, case.changed, case.warning, case.overdue (clock: stage or case, the whole case's limit) or *. X-Weige-Signature = sha256=HMAC(secret, timestamp + \".\" + body); X-Weige-Delivery is the delivery id (receivers drop repeats). Failures are retried from 5 s, doubling; after 10 tries a delivery is dead.",
    ),
    ("webhooks.outbox", "投递记录", "Deliveries"),
    ("webhooks.attempts", "尝试次数", "Tries"),
    ("webhooks.retry", "重新投递", "Send again"),
    ("report.tagline", "居民上报", "Report a problem"),
    ("report.title", "反映问题", "Report a problem"),
    ("report.category", "问题类别", "What kind of problem"),
    ("report.description", "问题描述", "Describe it"),
    (
        "report.description.hint",
        "发生了什么、在哪里、持续多久……",
        "What happened, where, since when …",
    ),
    (
        "report.photos",
        "照片（可选，最多 6 张）",
        "Photos (optional, up to 6)",
    ),
    (
        "report.photos.hint",
        "JPEG、PNG 或 WebP，每张不超过 5 MB",
        "JPEG, PNG or WebP, at most 5 MB each",
    ),
    ("report.address", "位置", "Where"),
    (
        "report.address.hint",
        "如：柳城大道8号 和平小区3栋",
        "e.g. 柳城大道8号 和平小区3栋",
    ),
    ("report.locate", "使用我的位置", "Use my location"),
    ("report.name", "称呼（可选）", "Your name (optional)"),
    ("report.phone", "手机号（可选）", "Mobile (optional)"),
    (
        "report.privacy",
        "可匿名反映。手机号加密保存，仅用于回访；凭案件编号和手机尾号可查询进度。",
        "You may stay anonymous. Your number is stored encrypted and used only to follow up; with the case number and its last four digits you can follow the case.",
    ),
    ("report.submit", "提交", "Send"),
    ("track.title", "案件进度", "Case progress"),
    (
        "track.merged",
        "同一问题已合并办理，进度见案件",
        "The same problem is handled as case",
    ),
    (
        "track.fresh",
        "已收到您的反映。请收藏本页以便查看进度；也可凭案件编号和手机尾号在“查询”中查看。",
        "Received. Bookmark this page to follow the case, or look it up with its number and your phone's last four digits.",
    ),
    ("track.rated", "评价", "Rating"),
    ("track.rate", "核查与评价", "Verify and rate"),
    (
        "track.rate.hint",
        "问题解决了吗？满意或基本满意即结案；不满意将退回重新处理。",
        "Is it solved? Satisfied or fair closes the case; unsatisfied sends it back.",
    ),
    ("track.comment", "意见（可选）", "Comment (optional)"),
    ("track.submit", "提交评价", "Send"),
    (
        "track.lookup.hint",
        "输入案件编号和上报时所留手机号的后四位。",
        "Enter the case number and the last four digits of the phone you gave.",
    ),
    ("track.number", "案件编号", "Case number"),
    ("track.last4", "手机尾号后四位", "Last four digits"),
    ("track.lookup", "查询", "Look up"),
    (
        "track.notfound",
        "未找到该案件，请核对编号和手机尾号。",
        "No such case: check the number and the digits.",
    ),
    ("satisfaction.satisfied", "满意", "Satisfied"),
    ("satisfaction.fair", "基本满意", "Fair"),
    ("satisfaction.unsatisfied", "不满意", "Unsatisfied"),
    ("cases.mine", "我的待办", "Mine"),
    ("cases.bulk", "批量办理", "Bulk"),
    ("cases.bulk.all", "全选", "All"),
    ("bulk.accept", "立案", "Accept"),
    ("bulk.dispatch", "派遣", "Dispatch"),
    ("bulk.supervise", "督办", "Urge"),
    ("bulk.comment", "补充说明", "Note"),
    ("bulk.done", "已办理", "Done"),
    ("bulk.failed", "未能办理", "Not done"),
    ("cases.due", "即将到期", "Due soon"),
    ("cases.overdue", "已超时", "Overdue"),
    ("cases.all", "全部案件", "All"),
    ("cases.new", "上报案件", "Report"),
    ("cases.from", "上报日期自", "Reported from"),
    ("cases.to", "至", "to"),
    ("cases.none", "没有案件", "No cases"),
    ("cases.more", "更多", "More"),
    ("case.channel", "来源", "Channel"),
    ("case.urgent", "紧急", "Urgent"),
    ("case.supervised", "督办", "Supervised"),
    ("case.deadline", "时限", "Due"),
    ("case.tier", "层级", "Tier"),
    ("case.solved_at", "解决于", "solved at"),
    ("case.place", "网格", "Grid"),
    ("case.holder", "承办人", "Held by"),
    ("case.stage_clock", "本环节", "This stage"),
    ("case.case_clock", "全案", "Whole case"),
    ("case.reporter", "反映人", "Reporter"),
    ("case.closure", "结案方式", "Closure"),
    ("case.conditions", "结案条件", "Closing conditions"),
    ("case.media", "附件链接", "Media link"),
    ("case.transfer", "转办工单", "Transferred work order"),
    ("case.reported_there", "原始上报", "reported"),
    ("case.transferred", "转办", "transferred"),
    ("questions.title", "附加问题", "Extra questions"),
    (
        "questions.help",
        "上报此类问题时还要问的问题（Open311 的服务属性）。清空代码即删除该问题；选择题的选项写成“代码=名称”，用分号隔开。",
        "What else to ask of whoever reports this (Open311 attributes). Clear a code to remove its question; write choices as key=name, separated by semicolons.",
    ),
    ("questions.code", "代码", "Code"),
    ("questions.description", "问题", "Question"),
    ("questions.datatype", "类型", "Type"),
    ("questions.required", "必答", "Required"),
    ("questions.values", "选项", "Choices"),
    ("questions.hint", "填写提示", "Hint"),
    ("questions.save", "保存问题", "Save the questions"),
    ("questions.required_mark", "（必答）", " (required)"),
    ("questions.choose", "请选择", "Choose"),
    ("common.yes", "是", "Yes"),
    ("common.no", "否", "No"),
    ("case.actions", "办理", "Act"),
    (
        "case.noactions",
        "您在此环节没有可办理的操作。",
        "Nothing for you to do at this stage.",
    ),
    ("case.reason", "说明", "Note"),
    ("case.to", "派给（账号）", "To (username)"),
    (
        "case.to.hint",
        "留空则派给本层级承办人",
        "empty: the tier's handler",
    ),
    ("case.merge_into", "并入案件编号", "Merge into case"),
    ("case.after_photos", "处置后照片", "After photos"),
    ("case.history", "办理过程", "History"),
    ("clock.green", "正常", "On time"),
    ("clock.yellow", "临期", "Due soon"),
    ("clock.red", "超时", "Overdue"),
    ("clock.paused", "暂停计时", "Paused"),
    ("clock.done", "已结束", "Done"),
    ("closure.normal", "正常结案", "Normal"),
    ("closure.overdue", "超时结案", "Overdue"),
    ("closure.special", "特殊结案", "Special"),
    ("photo.before", "上报时", "Before"),
    ("photo.after", "处置后", "After"),
    ("channel.resident_page", "居民扫码上报", "Resident page"),
    ("channel.patrol", "网格员巡查", "Patrol"),
    ("channel.phone", "电话", "Phone"),
    ("channel.api", "系统对接", "API"),
    ("channel.open311", "Open311", "Open311"),
    ("channel.wechat", "微信群", "WeChat group"),
    ("channel.hotline", "12345 热线", "12345 hotline"),
    ("channel.city_app", "城市随手拍", "City reporting app"),
    ("nav.roster", "人员名册", "Roster"),
    ("nav.tags", "重点人群标签", "Key-group tags"),
    ("roster.duty", "职责", "Duty"),
    ("roster.node", "服务网格", "Serves"),
    ("roster.party", "党员", "Party member"),
    ("roster.since", "任职时间", "Since"),
    ("roster.training", "培训情况", "Training"),
    ("roster.building", "楼栋", "Building"),
    ("roster.account", "账号", "Account"),
    ("roster.add", "添加人员", "Add a person"),
    ("roster.remove", "移出名册", "Remove"),
    ("roster.anyduty", "全部职责", "All duties"),
    ("table.import", "导入", "Import"),
    (
        "table.import.hint",
        "CSV（UTF-8）或 Excel（.xlsx）文件，第一行为表头；有错误行时不导入任何数据。",
        "A CSV (UTF-8) or Excel (.xlsx) file with the header in row 1; nothing is imported while a row is bad.",
    ),
    ("table.skip", "跳过错误行", "Skip bad rows"),
    ("table.template", "表头", "Header"),
    ("table.residents", "居民", "Residents"),
    ("table.buildings", "楼栋", "Buildings"),
    ("table.households", "住户", "Households"),
    ("tags.code", "代码", "Code"),
    ("tags.zh", "中文名称", "Chinese name"),
    ("tags.en", "英文名称", "English name"),
    ("tags.sort", "排序", "Order"),
    ("tags.retired", "停用", "Retired"),
    ("tags.add", "添加标签", "Add a tag"),
    (
        "tags.hint",
        "停用的标签仍保留在已有居民上，但不再用于新登记。",
        "A retired tag stays on the residents who have it and is no longer offered.",
    ),
    ("history.title", "边界历史", "Shape history"),
    ("history.from", "生效", "From"),
    ("history.to", "失效", "To"),
    ("history.current", "现行", "In force"),
    ("history.show", "在图上显示", "Show"),
    ("map.edit", "编辑边界", "Edit shape"),
    ("map.save", "保存边界", "Save shape"),
    ("map.cancel", "取消", "Cancel"),
    (
        "map.edit.hint",
        "拖动顶点；相邻单元格的共用顶点一起移动。保存时检查重叠与越界。",
        "Drag the corners; corners shared with neighbours move with them. Saving checks overlaps and the parent's boundary.",
    ),
    ("map.saved", "已保存", "Saved"),
    ("map.history", "边界历史", "Shape history"),
    ("app.name", "微格", "Weige"),
    (
        "app.tagline",
        "微网实格 · 社区治理平台",
        "Micro-grid community governance",
    ),
    ("lang.switch", "English", "中文"),
    ("nav.home", "首页", "Home"),
    ("nav.grid", "网格目录", "Grid directory"),
    ("nav.map", "网格地图", "Grid map"),
    ("nav.check", "划分检查", "Division check"),
    ("nav.registry", "实有人口", "Registry"),
    ("nav.cards", "联系卡", "Contact cards"),
    ("cards.title", "微网格联系卡", "Micro-grid contact cards"),
    ("cards.heading", "微网格联系卡", "Micro-grid contact card"),
    ("cards.print", "打印", "Print"),
    (
        "cards.hint",
        "每张 A4 纸打印多张，张贴在楼栋或单元门口。",
        "Several cards to an A4 page, for building and unit doors.",
    ),
    (
        "cards.scan",
        "有事请扫码反映，我们及时处理",
        "Scan to tell us about a problem",
    ),
    (
        "registry.search",
        "姓名、地址、手机号、手机尾号或身份证号",
        "Name, address, phone, last 4 digits or ID number",
    ),
    (
        "registry.placeholder",
        "如：张伟、和平小区、5678",
        "e.g. 张伟, 和平小区, 5678",
    ),
    ("registry.tag", "重点人群", "Key group"),
    ("registry.anytag", "全部", "All"),
    ("registry.address", "地址", "Address"),
    ("registry.phone", "电话", "Phone"),
    ("registry.id", "身份证号", "ID number"),
    ("registry.type", "居住类型", "Residence"),
    ("registry.relation", "与户主关系", "Relation"),
    ("registry.birth", "出生日期", "Born"),
    ("registry.reveal", "查看完整", "Reveal"),
    ("registry.export", "导出", "Export"),
    (
        "registry.masked",
        "敏感信息已脱敏显示；查看完整信息会记入审计日志。",
        "Sensitive fields are masked; every reveal is written to the audit log.",
    ),
    (
        "registry.audited",
        "按最小必要原则显示；每次查看、更正和删除均有审计记录。",
        "Shown on a need-to-know basis; every reveal, correction and erasure is audited.",
    ),
    ("map.households", "住户", "Households"),
    ("map.allhouseholds", "查看全部住户", "All households"),
    ("grade.red", "红色关爱", "Red care"),
    ("grade.yellow", "黄色关爱", "Yellow care"),
    ("grade.blue", "蓝色关爱", "Blue care"),
    ("level.district", "区", "District"),
    ("level.street", "街道", "Street"),
    ("level.community", "社区", "Community"),
    ("level.grid", "一般网格", "General grid"),
    ("level.micro_grid", "微网格", "Micro-grid"),
    (
        "map.hint",
        "点击地图上的网格，查看其编码、类型和网格员。",
        "Click a cell on the map for its code, kind and workers.",
    ),
    ("map.staff", "服务人员", "Who serves here"),
    ("map.nostaff", "尚未配置网格员", "No worker assigned yet"),
    ("check.title", "网格划分检查", "Division check"),
    (
        "check.clean",
        "未发现缝隙、重叠、越界或无效图形。",
        "No gaps, overlaps, overreach or invalid shapes found.",
    ),
    ("check.count", "发现问题", "Findings"),
    ("check.kind", "问题", "Problem"),
    ("check.where", "位置", "Where"),
    ("check.show", "在地图上查看", "Show on the map"),
    ("check.tolerance", "容差（平方米）", "Tolerance (m²)"),
    ("nav.accounts", "账户管理", "Accounts"),
    ("nav.apikeys", "API 密钥", "API keys"),
    ("nav.audit", "审计日志", "Audit log"),
    ("nav.system", "系统设置", "System"),
    ("nav.apidocs", "接口文档", "API docs"),
    ("nav.logout", "退出登录", "Sign out"),
    ("login.title", "登录", "Sign in"),
    ("login.username", "用户名", "Username"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Sign in"),
    (
        "login.bad",
        "用户名或密码错误",
        "Wrong username or password",
    ),
    (
        "login.locked",
        "登录失败次数过多，账户已锁定，请 15 分钟后再试或联系安全管理员",
        "Too many failed sign-ins: the account is locked. Try again in 15 minutes or ask the security admin",
    ),
    (
        "login.expired",
        "会话已超时，请重新登录",
        "Your session has ended; please sign in again",
    ),
    ("login.loggedout", "您已退出登录", "You have signed out"),
    (
        "login.hint",
        "演示账户的用户名和密码在启动时打印于终端",
        "The demo accounts and passwords are printed in the terminal at start",
    ),
    ("home.welcome", "您好，", "Welcome, "),
    ("home.roles", "我的角色与网格范围", "My roles and scopes"),
    (
        "home.noroles",
        "您的账户尚未被授予任何角色，请联系安全管理员。",
        "Your account holds no role yet; ask the security admin.",
    ),
    ("home.shortcuts", "常用功能", "Shortcuts"),
    ("col.role", "角色", "Role"),
    ("col.scope", "网格范围", "Scope"),
    ("col.username", "用户名", "Username"),
    ("col.name", "姓名", "Name"),
    ("col.status", "状态", "Status"),
    ("col.actions", "操作", "Actions"),
    ("col.time", "时间", "Time"),
    ("col.actor", "操作人", "Actor"),
    ("col.action", "事件", "Event"),
    ("col.target", "对象", "Target"),
    ("col.outcome", "结果", "Outcome"),
    ("col.client", "来源地址", "Client"),
    ("col.detail", "详情", "Detail"),
    ("col.code", "编码", "Code"),
    ("col.level", "层级", "Level"),
    ("col.keyname", "名称", "Name"),
    ("col.prefix", "密钥前缀", "Prefix"),
    ("col.created", "创建", "Created"),
    ("col.lastused", "最近使用", "Last used"),
    ("status.active", "正常", "Active"),
    ("status.disabled", "已停用", "Disabled"),
    ("status.locked", "已锁定", "Locked"),
    ("status.revoked", "已吊销", "Revoked"),
    ("accounts.create", "新建账户", "New account"),
    ("accounts.password", "初始密码", "Initial password"),
    ("accounts.home", "所属网格", "Home node"),
    ("accounts.grant", "授予角色", "Grant role"),
    ("accounts.revoke", "撤销", "Revoke"),
    ("accounts.disable", "停用", "Disable"),
    ("accounts.enable", "启用", "Enable"),
    ("accounts.reset", "重置密码", "Reset password"),
    ("accounts.newpassword", "新密码", "New password"),
    (
        "accounts.policy",
        "至少 8 位，包含大写字母、小写字母、数字、符号中的三类",
        "At least 8 characters mixing 3 of: upper case, lower case, digits, symbols",
    ),
    ("apikeys.create", "新建 API 密钥", "New API key"),
    (
        "apikeys.once",
        "请立即复制并妥善保存此密钥，它只显示这一次：",
        "Copy this key now and keep it safe; it is shown only once:",
    ),
    ("apikeys.revoke", "吊销", "Revoke"),
    (
        "apikeys.usage",
        "调用接口时在请求头中携带 Authorization: Bearer <密钥>",
        "Send it as Authorization: Bearer <key>",
    ),
    ("audit.filter", "筛选", "Filter"),
    ("audit.allactions", "全部事件", "All events"),
    ("audit.more", "加载更多", "Load more"),
    ("audit.none", "没有记录", "No events"),
    ("grid.title", "网格范围", "Grid scope"),
    (
        "grid.note",
        "地图、楼栋与住户将在网格功能中提供。",
        "The map, buildings and households come with the grid feature.",
    ),
    ("system.title", "系统信息", "System"),
    ("system.version", "版本", "Version"),
    ("system.engine", "数据库", "Database"),
    ("system.schema", "数据库结构版本", "Schema version"),
    (
        "system.idle",
        "会话空闲超时（分钟）",
        "Session idle timeout (minutes)",
    ),
    ("system.lockout", "登录失败锁定", "Sign-in lockout"),
    ("common.submit", "提交", "Submit"),
    ("common.save", "保存", "Save"),
    ("common.ok", "操作成功", "Done"),
    ("common.error", "操作失败", "Failed"),
    ("common.confirm", "确定要执行此操作吗？", "Are you sure?"),
    (
        "error.403",
        "您无权访问此页面，本次访问已记录。",
        "You may not open this page; the attempt was recorded.",
    ),
    ("error.404", "页面不存在。", "There is no such page."),
    ("error.back", "返回首页", "Back to the home page"),
];

impl Tr {
    pub fn t(&self, key: &str) -> &'static str {
        match TEXTS.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self.0 {
                Locale::Zh => zh,
                Locale::En => en,
            },
            None => "?",
        }
    }

    pub fn is_en(&self) -> bool {
        self.0 == Locale::En
    }

    pub fn html_lang(&self) -> &'static str {
        if self.is_en() { "en" } else { "zh-CN" }
    }

    /// The text of the key `prefix` + `key` (`clock.` + `red`).
    pub fn tp(&self, prefix: &str, key: &str) -> &'static str {
        self.t(&format!("{prefix}{key}"))
    }

    pub fn role(&self, role: &str) -> &'static str {
        match domain::Role::parse(role) {
            Some(r) if self.is_en() => r.label_en(),
            Some(r) => r.label_zh(),
            None => "?",
        }
    }

    pub fn time(&self, ms: &i64) -> String {
        format_time(*ms)
    }

    pub fn opt_time(&self, ms: &Option<i64>) -> String {
        ms.map(format_time).unwrap_or_else(|| "—".into())
    }
}

/// `2026-11-28 16:20:00` in Beijing time.
pub fn format_time(ms: i64) -> String {
    let Some(offset) = FixedOffset::east_opt(8 * 3600) else {
        return ms.to_string();
    };
    match offset.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => ms.to_string(),
    }
}

/// The locale of the request, from its cookie.
pub struct Lang(pub Tr);

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let en = crate::middleware::cookie(&parts.headers, LANG_COOKIE).is_some_and(|v| v == "en");
        Ok(Lang(Tr(if en { Locale::En } else { Locale::Zh })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages_and_a_unique_key() {
        let mut keys: Vec<&str> = TEXTS.iter().map(|t| t.0).collect();
        keys.sort();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len(), "duplicate keys");
        assert!(
            TEXTS
                .iter()
                .all(|(_, zh, en)| !zh.is_empty() && !en.is_empty())
        );
    }

    #[test]
    fn times_show_in_beijing_time() {
        assert_eq!(format_time(0), "1970-01-01 08:00:00");
    }
}
