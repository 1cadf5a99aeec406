import { describe, expect, it } from "vitest";
import {
  basename, bytes, datasetName, delimiterName, explain, expiryFromDate, fraction, listed, localDate, overall, percent, progressText,
  recipientLabel, sinceTime, when,
} from "../src/format";

describe("format", () => {
  it("shows sizes in decimal units", () => {
    expect(bytes(999)).toBe("999 B");
    expect(bytes(1_500_000)).toBe("1.5 MB");
  });
  it("estimates the time left from the rate so far", () => {
    expect(progressText({ stage: "uploading", bytesDone: 10e6, bytesTotal: 40e6 }, 2)).toBe(
      "uploading 10.0 MB of 40.0 MB, about 6 s left",
    );
    expect(progressText({ stage: "committing", bytesDone: 0, bytesTotal: 1 }, 1)).toBe("committing 0 B of 1 B");
    expect(fraction({ stage: "converting", bytesDone: 5, bytesTotal: 10 })).toBe(0.5);
  });
  it("turns errors into sentences saying what to do", () => {
    expect(explain({ kind: "network", message: "cannot reach the backend" })).toContain("Check your connection");
    expect(explain({ kind: "cancelled", message: "cancelled" })).toContain("Nothing was left behind");
    expect(explain({ kind: "paused", message: "paused" })).toContain("Resume carries on");
  });
  it("says where in a file an error is", () => {
    expect(explain({ kind: "input", message: "not a number", file: "/data/file.csv", row: 12, column: "amount" })).toBe("file.csv, row 12, column amount: not a number");
    expect(explain({ kind: "input", message: "empty file", file: "C:\\data\\file.csv" })).toBe("file.csv: empty file");
    expect(explain({ kind: "input", message: "bad", row: 0 })).toBe("row 0: bad");
  });
  it("measures a whole upload across its stages, only forward", () => {
    const stages = ["converting", "uploading", "committing", "sharing"] as const;
    const points = stages.flatMap((stage) => [0, 0.5, 1].map((at) => overall({ stage, bytesDone: at * 10, bytesTotal: 10 })));
    points.slice(1).forEach((p, i) => expect(p).toBeGreaterThanOrEqual(points[i] - 1e-9));
    expect(points[0]).toBe(0);
    expect(points.at(-1)).toBe(1);
    expect(percent(0.426)).toBe("42%");
    expect(basename("/a/b/c.csv")).toBe("c.csv");
  });
  it("suggests a dataset name from the file", () => {
    expect(datasetName("/home/ana/Sales 2024.csv")).toBe("Sales 2024");
    expect(delimiterName("\t")).toBe("tab");
    expect(delimiterName(";")).toBe(";");
  });
  it("turns an expiry date into the end of that day in the user's time zone", () => {
    const end = new Date(expiryFromDate("2027-01-31")!);
    expect([end.getFullYear(), end.getMonth(), end.getDate(), end.getHours(), end.getMinutes()]).toEqual([2027, 1, 1, 0, 0]);
    expect(expiryFromDate("")).toBeNull();
    expect(expiryFromDate("31/01/2027")).toBeNull();
    expect(localDate(new Date(2027, 0, 5, 23, 59))).toBe("2027-01-05");
  });
  it("counts the activity's time filter back from now", () => {
    const now = Date.parse("2026-02-10T12:00:00Z");
    expect(sinceTime("1d", now)).toBe("2026-02-09T12:00:00.000Z");
    expect(sinceTime("7d", now)).toBe("2026-02-03T12:00:00.000Z");
    expect(sinceTime("30d", now)).toBe("2026-01-11T12:00:00.000Z");
    expect(sinceTime("all", now)).toBeNull();
  });
  it("names recipients, lists and times as people read them", () => {
    expect(recipientLabel("link")).toBe("link (snippet)");
    expect(recipientLabel("bo")).toBe("bo");
    expect(listed([])).toBe("");
    expect(listed(["sales"])).toBe("sales");
    expect(listed(["sales", "costs", "stock"])).toBe("sales, costs and stock");
    expect(when(undefined)).toBe("never");
    expect(when(null, "none")).toBe("none");
    expect(when("2026-01-03T10:00:00Z")).toBe(new Date("2026-01-03T10:00:00Z").toLocaleString());
  });
});
