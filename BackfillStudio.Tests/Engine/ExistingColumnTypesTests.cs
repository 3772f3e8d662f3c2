using BackfillStudio.Engine.Destinations;

namespace BackfillStudio.Tests.Engine;

/// <summary>Which column types of a target made before the job take its values unchanged.</summary>
public sealed class ExistingColumnTypesTests
{
    [Theory]
    [InlineData("DECIMAL(10,2)", "DECIMAL(10,2)", true)]
    [InlineData("NUMBER(38,0)", "NUMBER(19,0)", true)]
    [InlineData("NUMBER(20,4)", "NUMBER(12,3)", true)]
    [InlineData("number(12, 3)", "NUMBER(12,3)", true)]
    [InlineData("VARCHAR(16777216)", "VARCHAR(134217728)", true)]
    [InlineData("VARCHAR(20)", "VARCHAR", true)]
    [InlineData("BINARY(8388608)", "BINARY(67108864)", true)]
    [InlineData("TIMESTAMP_TZ(9)", "TIMESTAMP_TZ(6)", true)]
    [InlineData("TIME(9)", "TIME(6)", true)]
    [InlineData("BIGINT", "INTEGER", true)]
    [InlineData("INTEGER", "SMALLINT", true)]
    [InlineData("HUGEINT", "BIGINT", true)]
    [InlineData("DECIMAL(10,0)", "INTEGER", true)]
    [InlineData("DECIMAL(21,2)", "BIGINT", true)]
    [InlineData("DOUBLE", "FLOAT", true)]
    [InlineData("INTEGER", "BIGINT", false)]
    [InlineData("SMALLINT", "INTEGER", false)]
    [InlineData("DECIMAL(9,0)", "INTEGER", false)]
    [InlineData("DECIMAL(20,2)", "BIGINT", false)]
    [InlineData("DOUBLE", "INTEGER", false)]
    [InlineData("FLOAT", "DOUBLE", false)]
    [InlineData("BIGINT", "DECIMAL(10,0)", false)]
    [InlineData("DECIMAL(10,2)", "DECIMAL(10,4)", false)]
    [InlineData("NUMBER(12,3)", "NUMBER(13,2)", false)]
    [InlineData("NUMBER(10,0)", "FLOAT", false)]
    [InlineData("FLOAT", "NUMBER(10,0)", false)]
    [InlineData("TIMESTAMP_TZ(3)", "TIMESTAMP_TZ(6)", false)]
    [InlineData("TIMESTAMP_NTZ(6)", "TIMESTAMP_TZ(6)", false)]
    [InlineData("TIMESTAMP_LTZ(9)", "TIMESTAMP_TZ(6)", false)]
    [InlineData("TIME(9)", "TIMESTAMP_NTZ(6)", false)]
    [InlineData("VARCHAR(100)", "BINARY(100)", false)]
    [InlineData("VARCHAR", "JSON", false)]
    public void AColumnHoldsTheJobsValues_OnlyWhenNoneWouldBeCastToAnotherValue(string existing, string declared, bool holds) =>
        Assert.Equal(holds, ExistingColumnTypes.Holds(existing, declared));
}
