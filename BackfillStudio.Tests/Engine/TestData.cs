namespace BackfillStudio.Tests.Engine;

/// <summary>Source tables shared by the engine tests.</summary>
public static class TestData
{
    /// <summary>
    /// <c>public.all_types</c>: every supported PostgreSQL type, with NULLs, quotes, Unicode, extreme
    /// numeric precision and time zones; 2,500 rows so several batches are needed.
    /// </summary>
    public const string AllTypes = """
        CREATE TYPE mood AS ENUM ('happy', 'sad', 'it''s complicated');
        CREATE TABLE all_types (
            id bigint PRIMARY KEY,
            c_int2 smallint, c_int4 integer, c_float8 double precision,
            c_num numeric(20,6), c_num_wide numeric(38,10), c_num_free numeric,
            c_text text, c_varchar varchar(40), c_char char(5),
            c_bool boolean, c_date date, c_time time, c_ts timestamp, c_tstz timestamptz,
            c_uuid uuid, c_json json, c_jsonb jsonb, c_bytea bytea,
            c_int_arr integer[], c_text_arr text[], c_mood mood, c_interval interval);
        INSERT INTO all_types
        SELECT g,
               CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 32000)::smallint END,
               CASE WHEN g % 13 = 0 THEN NULL ELSE g * 1000 END,
               CASE WHEN g % 17 = 0 THEN NULL ELSE g / 8.0 END,
               CASE WHEN g % 7 = 0 THEN NULL ELSE (g * 1234.567891)::numeric(20,6) END,
               CASE WHEN g % 5 = 0 THEN NULL ELSE 1234567890123456789012345678.0123456789 + g END,
               CASE WHEN g % 3 = 0 THEN NULL ELSE 98765432109876543210987654321098765432109876543210.123456789 * g END,
               CASE g % 6 WHEN 0 THEN NULL WHEN 1 THEN 'it''s "quoted" \ back|slash' WHEN 2 THEN 'Grüße 日本語 😀' WHEN 3 THEN '' ELSE 'row ' || g END,
               CASE WHEN g % 4 = 0 THEN NULL ELSE 'v' || g END,
               CASE WHEN g % 9 = 0 THEN NULL ELSE 'c' || (g % 100) END,
               CASE g % 3 WHEN 0 THEN NULL WHEN 1 THEN true ELSE false END,
               CASE WHEN g % 10 = 0 THEN NULL ELSE date '2020-02-29' + g END,
               CASE WHEN g % 10 = 1 THEN NULL ELSE time '00:00:00.000001' + g * interval '17.123457 seconds' END,
               CASE WHEN g % 10 = 2 THEN NULL ELSE timestamp '1999-12-31 23:59:59.999999' + g * interval '1 hour 1.5 seconds' END,
               CASE WHEN g % 10 = 3 THEN NULL ELSE timestamptz '2024-03-31 01:30:00.5+02' + g * interval '97 minutes' END,
               CASE WHEN g % 10 = 4 THEN NULL ELSE md5(g::text)::uuid END,
               CASE WHEN g % 10 = 5 THEN NULL ELSE ('{"n": ' || g || ',  "s": "x\"y"}')::json END,
               CASE WHEN g % 10 = 6 THEN NULL ELSE jsonb_build_object('id', g, 'tags', jsonb_build_array('a', g % 3), 'ü', 'ß') END,
               CASE WHEN g % 10 = 7 THEN NULL ELSE decode(md5(g::text), 'hex') || '\x00ff'::bytea END,
               CASE WHEN g % 10 = 8 THEN NULL WHEN g % 10 = 9 THEN '{}'::int[] ELSE ARRAY[g, NULL, -g] END,
               CASE WHEN g % 8 = 0 THEN NULL ELSE ARRAY['a,b', 'q"uote', NULL, 'ü'] END,
               CASE WHEN g % 4 = 0 THEN NULL ELSE (ARRAY['happy','sad','it''s complicated']::mood[])[1 + g % 3] END,
               CASE WHEN g % 4 = 1 THEN NULL ELSE g * interval '1 day 3 hours' END
        FROM generate_series(1, 2500) g;
        ANALYZE all_types;
        """;
}
