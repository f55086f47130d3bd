//! 上报 and 进度: officers report quota work and see their union's progress and its children's.

use crate::support::{Harness, HRB_OFFICER, ORGANIZER};

#[tokio::test]
async fn officers_report_and_see_progress() {
    let h = Harness::shipped().await;
    let reported = h
        .group("g1", HRB_OFFICER, "上报 线下活动 2 走进XX企业，开展宣讲")
        .await;
    assert!(
        reported.contains("哈尔滨市总工会 线下活动 +2（走进XX企业，开展宣讲）"),
        "{reported}"
    );
    assert!(reported.contains("累计 2/10（20%）"), "{reported}");
    h.register("m", 1, "张三", "道里").await;

    h.set_time("2022-08-31T10:00:00+08:00");
    let progress = h.private(HRB_OFFICER, "进度").await;
    assert!(
        progress.starts_with("哈尔滨市总工会 任务进度"),
        "{progress}"
    );
    assert!(
        progress.contains("线下活动：2/10（20%），按进度应完成约 5，落后⚠"),
        "{progress}"
    );
    assert!(progress.contains("注册人数：1"), "{progress}");
    assert!(
        progress.contains("· 道里区总工会：线下活动 0；注册人数 1"),
        "{progress}"
    );

    let child = h.private(HRB_OFFICER, "进度 道里").await;
    assert!(child.starts_with("道里区总工会"), "{child}");
    assert!(h
        .private(HRB_OFFICER, "进度 大庆")
        .await
        .contains("只能查看本单位"));

    let province = h.private(ORGANIZER, "progress").await;
    assert!(province.starts_with("黑龙江省总工会"), "{province}");
    assert!(province.contains("线下活动：2/120"), "{province}");
    assert!(
        province.contains("· 哈尔滨市总工会：线下活动 2/10⚠"),
        "{province}"
    );
    let any = h.private(ORGANIZER, "进度 大庆").await;
    assert!(any.starts_with("大庆市总工会"), "{any}");

    assert!(h.private("m", "进度").await.contains("联络员"));
    assert!(h.private("m", "上报 线下活动 1").await.contains("联络员"));
    let unknown = h.private(HRB_OFFICER, "上报 跳舞 1").await;
    assert!(unknown.contains("可上报的指标：线下活动"), "{unknown}");
    assert!(h
        .private(HRB_OFFICER, "上报 线下活动 -1")
        .await
        .contains("用法：上报"));
    let reports: Vec<_> = h
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == "report")
        .collect();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].subject, "hrb");
}
