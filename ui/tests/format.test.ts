import { describe, expect, it } from "vitest";
import { bytes, datasetName, delimiterName, explain, fraction, progressText } from "../src/format";

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
  });
  it("suggests a dataset name from the file", () => {
    expect(datasetName("/home/ana/Sales 2024.csv")).toBe("Sales 2024");
    expect(delimiterName("\t")).toBe("tab");
    expect(delimiterName(";")).toBe(";");
  });
});
